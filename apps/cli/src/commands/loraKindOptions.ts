import type { Command } from 'commander';
import {
  defaultMosSettings,
  isLoraKind,
  loraKinds,
  loraKindSpec,
  type HyperSection,
  type LoraKind,
  type LoraKindSpec,
  type MosSettings,
} from '@recur/engine';
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
  readonly hyperDim?: string;
}

const kindHelp = Object.entries(loraKinds)
  .map(([kind, text]) => `${kind} (${text})`)
  .join('; ');

/**
 * `--lora-kind` (the kinds are @recur/lora's registry, kinds.ts), the MoS flags (Wang et al. 2024, arXiv
 * 2410.00938; one switch per strategy for ablation) and hyper's `--hyper-dim`.
 */
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
    .option('--mos-no-privatisation', 'mos ablation: no private shards (as --mos-private 0)')
    .option('--hyper-dim <H>', `hyper: size of the loop and of the position embeddings (default ${defaultHyperDim})`);
}

/** What `--lora-kind` and its flags ask for: the kind plus its settings section, as config.json records them. */
export interface LoraKindSettings {
  readonly loraKind: LoraKind;
  readonly mos?: MosSettings;
  readonly hyper?: HyperSection;
}

const defaultHyperDim = 8;

/** The LoRA kind and its settings (flags checked; one-line errors name the flag). */
export function loraKindSettings(options: LoraKindCliOptions, seed: number): LoraKindSettings {
  if (!isLoraKind(options.loraKind))
    throw new UsageError(`--lora-kind must be one of ${Object.keys(loraKinds).join(', ')}, got "${options.loraKind}"`);
  const given = Object.entries(options).filter(([key, value]) => key.startsWith('mos') && value !== undefined);
  if (options.loraKind !== 'mos' && given.length > 0)
    throw new UsageError(`--${flagName(given[0]![0])} applies only with --lora-kind mos`);
  if (options.loraKind !== 'hyper' && options.hyperDim !== undefined)
    throw new UsageError(`--hyper-dim applies to --lora-kind hyper only (got --lora-kind ${options.loraKind})`);
  if (options.loraKind === 'hyper')
    return {
      loraKind: 'hyper',
      hyper: {
        hyperDim: parseNumber('hyper-dim', options.hyperDim ?? `${defaultHyperDim}`, { integer: true, min: 1 }),
      },
    };
  if (options.loraKind !== 'mos') return { loraKind: options.loraKind };
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

/**
 * `recur train --lora-kind hyper|scaled`: a fresh recursive model (--from-scratch --loops N) gets per-loop
 * LoRA of that kind (rank 8, starting at no change); a loaded model keeps the kind it was converted with.
 * depthwise and mos give undefined (mos trains a new --lora-rank adapter: adapterTraining).
 */
export function freshLoraKind(options: LoraKindCliOptions, recursive: boolean): LoraKindSpec | undefined {
  const settings = loraKindSettings(options, 0);
  if (settings.loraKind !== 'hyper' && settings.loraKind !== 'scaled') return undefined;
  if (!recursive)
    throw new UsageError(
      `--lora-kind ${settings.loraKind} gives a fresh recursive model (--from-scratch --loops N) its per-loop LoRA; a converted model trains the kind it was converted with (recur convert --lora-kind)`,
    );
  return loraKindSpec(settings);
}
