import {
  depthKvModes,
  parseExitRule,
  trainedRouting,
  type DepthKvMode,
  type ExitRule,
  type LoadedModel,
} from '@recur/engine';
import { UsageError } from '../errors.js';

export const exitHelp =
  'per-token depth: maxprob:P | entropy:H | fixed:D | router[:T] (MoR models; their default) | none (full depth); router rules route the prompt too, the others run it at every loop';
export const kvHelp = `what deeper loops see of tokens that left early: ${depthKvModes.join(' | ')} (default copy; routers: as trained)`;

export interface DepthFlags {
  readonly exit?: ExitRule;
  readonly kvMode?: DepthKvMode;
  /** `--exit none`: full depth, also for a model trained with a router. */
  readonly fullDepth?: boolean;
}

/** --exit and --kv as engine values (UsageError on bad text). */
export function depthFlags(options: { readonly exit?: string; readonly kv?: string }): DepthFlags {
  if (options.kv !== undefined && options.exit === undefined) throw new UsageError('--kv applies with --exit only');
  if (options.kv !== undefined && !depthKvModes.includes(options.kv as DepthKvMode))
    throw new UsageError(`--kv must be one of ${depthKvModes.join(', ')}, got ${options.kv}`);
  if (options.exit === undefined) return {};
  if (options.exit.trim().toLowerCase() === 'none') {
    if (options.kv !== undefined) throw new UsageError('--kv applies with an exit rule, not --exit none');
    return { fullDepth: true };
  }
  return { exit: exitFlag(options.exit), ...(options.kv !== undefined && { kvMode: options.kv as DepthKvMode }) };
}

/**
 * The depth rule a model runs with: the flags', else — for a model trained with a MoR router —
 * its router, because without it the model computes another function than it was trained as
 * (ungated loops) and writes nonsense. `--exit none` asks for full depth anyway.
 */
export function modelDepth(model: LoadedModel, flags: DepthFlags): DepthFlags {
  const trained = flags.exit || flags.fullDepth ? undefined : trainedRouting(model);
  return trained ? { ...flags, exit: trained } : flags;
}

/** --exit text as an engine ExitRule (a UsageError naming the rule otherwise). */
export function exitFlag(text: string): ExitRule {
  try {
    return parseExitRule(text);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** "mean 1.42 · depth 1: 10, depth 2: 14" */
export function depthSummary(depths: readonly number[]): string {
  const counts = new Map<number, number>();
  for (const d of depths) counts.set(d, (counts.get(d) ?? 0) + 1);
  const mean = depths.reduce((a, b) => a + b, 0) / Math.max(1, depths.length);
  return `mean depth ${mean.toFixed(2)} · ${[...counts]
    .sort(([a], [b]) => a - b)
    .map(([d, n]) => `depth ${d}: ${n}`)
    .join(', ')}`;
}
