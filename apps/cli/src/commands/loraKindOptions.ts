import type { Command } from 'commander';
import { defaultMosSettings, isLoraKind, loraKinds, type LoraKind, type MosSettings } from '@recur/engine';
import { parseNumber, UsageError } from '../errors.js';

export interface LoraKindCliOptions {
  readonly loraKind: string;
  readonly mosPool?: string;
  readonly mosShards?: string;
  readonly mosPrivate?: string;
  readonly mosNoSubset?: boolean;
  readonly mosNoDissociation?: boolean;
  readonly mosNoVectorSharding?: boolean;
  readonly mosNoPrivatisation?: boolean;
}

const kindHelp = Object.entries(loraKinds)
  .map(([kind, text]) => `${kind} (${text})`)
  .join('; ');

/** `--lora-kind` and the MoS flags (Wang et al. 2024, arXiv 2410.00938), one switch per strategy for ablation. */
export function addLoraKindOptions(command: Command): Command {
  const d = defaultMosSettings;
  return command
    .option('--lora-kind <kind>', `how per-loop LoRA is stored: ${kindHelp}`, 'depthwise')
    .option('--mos-pool <n>', `mos: public shards in each module's A and B pool (default ${d.pool})`)
    .option('--mos-shards <k>', `mos: shards per rank vector, dividing every module's sizes (default ${d.shards})`)
    .option('--mos-private <f>', `mos: fraction of each step's shards that are its own (default ${d.private})`)
    .option('--mos-no-subset', 'mos ablation: every step uses the same public shards (no subset selection)')
    .option('--mos-no-dissociation', "mos ablation: B's shards follow A's indices (no pair dissociation)")
    .option('--mos-no-vector-sharding', 'mos ablation: one shard per rank vector (as --mos-shards 1)')
    .option('--mos-no-privatisation', 'mos ablation: no private shards (as --mos-private 0)');
}

/** The LoRA kind and, for mos, its settings (flags checked; one-line errors name the flag). */
export function loraKindSettings(options: LoraKindCliOptions, seed: number): { loraKind: LoraKind; mos?: MosSettings } {
  if (!isLoraKind(options.loraKind))
    throw new UsageError(`--lora-kind must be one of ${Object.keys(loraKinds).join(', ')}, got "${options.loraKind}"`);
  const given = Object.entries(options).filter(([key, value]) => key.startsWith('mos') && value !== undefined);
  if (options.loraKind !== 'mos') {
    if (given.length > 0) throw new UsageError(`--${flagName(given[0]![0])} applies only with --lora-kind mos`);
    return { loraKind: options.loraKind };
  }
  if (options.mosNoVectorSharding && options.mosShards !== undefined)
    throw new UsageError('--mos-shards and --mos-no-vector-sharding contradict each other: give one');
  if (options.mosNoPrivatisation && options.mosPrivate !== undefined)
    throw new UsageError('--mos-private and --mos-no-privatisation contradict each other: give one');
  const d = defaultMosSettings;
  const number = (name: string, raw: string | undefined, fallback: number, range: Parameters<typeof parseNumber>[2]) =>
    raw === undefined ? fallback : parseNumber(name, raw, range);
  return {
    loraKind: 'mos',
    mos: {
      pool: number('mos-pool', options.mosPool, d.pool, { integer: true, min: 1 }),
      shards: options.mosNoVectorSharding
        ? 1
        : number('mos-shards', options.mosShards, d.shards, { integer: true, min: 1 }),
      private: options.mosNoPrivatisation
        ? 0
        : number('mos-private', options.mosPrivate, d.private, { min: 0, max: 1 }),
      subset: !options.mosNoSubset,
      dissociation: !options.mosNoDissociation,
      seed,
    },
  };
}

/** mosNoSubset → mos-no-subset. */
const flagName = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
