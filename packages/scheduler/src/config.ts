import { SchedulerError } from './errors.js';

/** How KV entries are counted: one per (position, depth) run, or only depth 0 writes (recursive KV sharing). */
export type KvMode = 'per-depth' | 'shared-first';
/** Admission and preemption order: arrival only, or priority (lower value first) then arrival. */
export type Policy = 'fcfs' | 'priority';
/** `static` admits a new batch only once every running request has finished. */
export type Batching = 'continuous' | 'static';

/** Flat, readonly, JSON-serialisable; `resolveSchedulerConfig` fills defaults and validates. */
export interface SchedulerConfig {
  /** Most rows in one step (one batched call of the shared block). */
  readonly maxRowsPerStep: number;
  /** Most positions in one step: the sum of the rows' span lengths. */
  readonly tokenBudgetPerStep: number;
  /** N, the loops of the shared block; a row at depth N−1 must exit. N = 1 is a vanilla (untied) model. */
  readonly maxDepth: number;
  /** Most positions in one prefill chunk. At most tokenBudgetPerStep, so every chunk can run at every depth. */
  readonly prefillChunk: number;
  /** KV entries the cache holds, all requests together (one entry = one position at one depth). */
  readonly kvBudget: number;
  readonly kvMode: KvMode;
  readonly policy: Policy;
  /** Most requests admitted at once; 1 serves one request at a time. */
  readonly maxRunning: number;
  readonly batching: Batching;
}

export const defaultSchedulerConfig: SchedulerConfig = {
  maxRowsPerStep: 16,
  tokenBudgetPerStep: 256,
  maxDepth: 1,
  prefillChunk: 64,
  kvBudget: 65_536,
  kvMode: 'per-depth',
  policy: 'fcfs',
  // No cap by default: the row limit, token budget and KV budget already bound the work.
  maxRunning: Number.MAX_SAFE_INTEGER,
  batching: 'continuous',
};

const positiveIntegers = [
  'maxRowsPerStep',
  'tokenBudgetPerStep',
  'maxDepth',
  'prefillChunk',
  'kvBudget',
  'maxRunning',
] as const;

/** Defaults for what is missing; throws `SchedulerError('bad-config')` naming the field at fault. */
export function resolveSchedulerConfig(options: Partial<SchedulerConfig> = {}): SchedulerConfig {
  const config: SchedulerConfig = { ...defaultSchedulerConfig, ...options };
  for (const key of positiveIntegers) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new SchedulerError('bad-config', `scheduler config ${key} must be a positive integer, got ${value}`);
    }
  }
  if (config.prefillChunk > config.tokenBudgetPerStep) {
    throw new SchedulerError(
      'bad-config',
      `scheduler config prefillChunk (${config.prefillChunk}) must not exceed tokenBudgetPerStep (${config.tokenBudgetPerStep})`,
    );
  }
  checkOneOf('kvMode', config.kvMode, ['per-depth', 'shared-first']);
  checkOneOf('policy', config.policy, ['fcfs', 'priority']);
  checkOneOf('batching', config.batching, ['continuous', 'static']);
  return config;
}

function checkOneOf(key: string, value: string, allowed: readonly string[]): void {
  if (!allowed.includes(value)) {
    throw new SchedulerError(
      'bad-config',
      `scheduler config ${key} must be one of ${allowed.join(', ')}, got ${value}`,
    );
  }
}
