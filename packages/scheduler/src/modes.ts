import type { SchedulerConfig } from './config.js';

/**
 * The serving baselines of the CDB comparison as config overrides, all run by the same scheduler.
 * Merge with the shared limits: `new Scheduler({ ...limits, ...baselineConfig('static', { batch: 8 }) })`.
 */
export type ServingMode =
  /** One request at a time, start to finish. */
  | 'one-at-a-time'
  /** A batch is admitted only when the previous batch has fully finished. */
  | 'static'
  /** Continuous batching of a vanilla model: one depth, a finished request's slot refilled at once. */
  | 'continuous-sequence'
  /** Continuous depth-wise batching of a recursive model; exits may come early (router / policy) or at N. */
  | 'continuous-depth';

export interface BaselineOptions {
  /** Requests per batch for 'static' (default: unlimited, i.e. all that fit the first step). */
  readonly batch?: number;
  /** Loops N for 'continuous-depth' (default 2). */
  readonly maxDepth?: number;
}

export function baselineConfig(mode: ServingMode, options: BaselineOptions = {}): Partial<SchedulerConfig> {
  switch (mode) {
    case 'one-at-a-time':
      return { maxRunning: 1, batching: 'continuous' };
    case 'static':
      return { batching: 'static', ...(options.batch !== undefined && { maxRunning: options.batch }) };
    case 'continuous-sequence':
      return { maxDepth: 1, batching: 'continuous' };
    case 'continuous-depth':
      return { maxDepth: options.maxDepth ?? 2, batching: 'continuous' };
  }
}
