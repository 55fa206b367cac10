export { Scheduler } from './scheduler.js';
export {
  defaultSchedulerConfig,
  resolveSchedulerConfig,
  type Batching,
  type KvMode,
  type Policy,
  type SchedulerConfig,
} from './config.js';
export { SchedulerError, type SchedulerErrorCode } from './errors.js';
export { baselineConfig, type BaselineOptions, type ServingMode } from './modes.js';
export type {
  CompletionReport,
  FinishReason,
  FinishedRequest,
  Request,
  RowKind,
  RowPlan,
  RowResult,
  SampledToken,
  SchedulerStats,
  StepPlan,
  StepResult,
} from './types.js';
