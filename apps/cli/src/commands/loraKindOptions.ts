import type { Command } from 'commander';
import { loraKinds, type LoraKindSpec } from '@recur/engine';
import { parseNumber, UsageError } from '../errors.js';

export interface LoraKindCliOptions {
  readonly loraKind: string;
  readonly hyperDim?: string;
}

/** `--lora-kind` and its settings (the kinds are @recur/lora's registry, kinds.ts). */
export function addLoraKindOptions(command: Command): Command {
  return command
    .option(
      '--lora-kind <kind>',
      `how the per-loop LoRA is stored: ${loraKinds.join(', ')} (depthwise: every (layer, loop) adapter; hyper: generated from loop and position embeddings; scaled: one template per layer, a scale per loop)`,
      'depthwise',
    )
    .option('--hyper-dim <H>', 'with --lora-kind hyper: size of the loop and of the position embeddings (default 8)');
}

/** The kind the flags ask for; --hyper-dim without --lora-kind hyper is refused in one line. */
export function parseLoraKind(options: LoraKindCliOptions): LoraKindSpec {
  const kind = options.loraKind;
  if (!(loraKinds as readonly string[]).includes(kind))
    throw new UsageError(`--lora-kind must be one of ${loraKinds.join(', ')}, got "${kind}"`);
  if (kind !== 'hyper' && options.hyperDim !== undefined)
    throw new UsageError(`--hyper-dim applies to --lora-kind hyper only (got --lora-kind ${kind})`);
  if (kind === 'hyper')
    return { kind, hyperDim: parseNumber('hyper-dim', options.hyperDim ?? '8', { integer: true, min: 1 }) };
  return { kind: kind as 'depthwise' | 'scaled' };
}

/**
 * `recur train --lora-kind K`: a fresh recursive model (--from-scratch --loops N) gets per-loop LoRA of
 * kind K (rank 8, starting at no change); a loaded model keeps the kind it was converted with.
 */
export function freshLoraKind(options: LoraKindCliOptions, recursive: boolean): LoraKindSpec | undefined {
  const spec = parseLoraKind(options);
  if (spec.kind === 'depthwise') return undefined;
  if (!recursive)
    throw new UsageError(
      `--lora-kind ${spec.kind} gives a fresh recursive model (--from-scratch --loops N) its per-loop LoRA; a converted model trains the kind it was converted with (recur convert --lora-kind)`,
    );
  return spec;
}
