import type { Command } from 'commander';
import type { AdaptedModule } from '@recur/engine';
import type { AdapterTraining } from '@recur/engine/node';
import { parseNumber, UsageError } from '../errors.js';
import { addLoraKindOptions, loraKindSettings, type LoraKindCliOptions } from './loraKindOptions.js';

export interface AdapterCliOptions extends LoraKindCliOptions {
  readonly trainable?: string;
  readonly fromScratch?: boolean;
  readonly loraRank?: string;
  readonly loraModules?: string;
  readonly loraAlpha?: string;
}

const shortNames: Record<string, AdaptedModule> = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
};

/** train's flags for a new LoRA adapter on a frozen model. */
export function addAdapterTrainingOptions(command: Command): Command {
  return addLoraKindOptions(command)
    .option(
      '--lora-rank <r>',
      'with --trainable lora: train only a NEW LoRA of rank r on the frozen model (plain or converted) and write it as a PEFT adapter to --out/adapter (no model/); load it with --adapter',
    )
    .option(
      '--lora-modules <list>',
      `with --lora-rank: projections to adapt (default all: ${Object.keys(shortNames).join(',')})`,
    )
    .option('--lora-alpha <x>', "with --lora-rank: PEFT's lora_alpha, the delta is scaled by alpha / r (default: r)");
}

/** The new adapter a train run asks for, or undefined (flags checked; one-line errors name the flag). */
export function adapterTraining(options: AdapterCliOptions): AdapterTraining | undefined {
  // the run's --seed draws a new MoS adapter's index tables and A pool (adapterTrainable), as it draws a LoRA's A
  const kind = loraKindSettings(options, 0);
  if (options.loraRank === undefined) {
    if (options.loraModules !== undefined || options.loraAlpha !== undefined)
      throw new UsageError('--lora-modules and --lora-alpha apply only with --lora-rank R');
    // hyper and scaled without --lora-rank give a fresh recursive model its per-loop LoRA (freshLoraKind)
    if (kind.loraKind === 'mos')
      throw new UsageError(
        `--lora-kind ${kind.loraKind} applies with --lora-rank R (a new adapter); a converted model's own LoRA kind is chosen by convert`,
      );
    return undefined;
  }
  if (kind.loraKind === 'hyper' || kind.loraKind === 'scaled')
    throw new UsageError(
      `--lora-kind ${kind.loraKind} does not apply with --lora-rank R: a new adapter is depthwise or mos (${kind.loraKind} LoRA comes from recur convert, or train --from-scratch --loops N)`,
    );
  if (kind.loraKind === 'mos' && options.loraModules !== undefined)
    throw new UsageError('--lora-modules does not apply with --lora-kind mos: its pools cover all seven projections');
  if (options.fromScratch)
    throw new UsageError('--lora-rank trains an adapter on an existing --model, not --from-scratch');
  if (options.trainable !== undefined && options.trainable !== 'lora')
    throw new UsageError(
      `--lora-rank trains only the new LoRA: give --trainable lora (or leave it out), not "${options.trainable}"`,
    );
  const rank = parseNumber('lora-rank', options.loraRank, { integer: true, min: 1 });
  const modules = options.loraModules === undefined ? undefined : parseModules(options.loraModules);
  const alpha = options.loraAlpha === undefined ? undefined : parseNumber('lora-alpha', options.loraAlpha, { min: 0 });
  return {
    rank,
    ...(modules && { modules }),
    ...(alpha !== undefined && { alpha }),
    ...(kind.mos && { mos: kind.mos }),
  };
}

function parseModules(list: string): AdaptedModule[] {
  const names = list.split(',').map((s) => s.trim());
  const modules = names.map((name) => {
    const module = shortNames[name];
    if (!module) throw new UsageError(`--lora-modules: "${name}" is not one of ${Object.keys(shortNames).join(', ')}`);
    return module;
  });
  if (new Set(modules).size !== modules.length)
    throw new UsageError(`--lora-modules names a projection twice: ${list}`);
  return modules;
}
