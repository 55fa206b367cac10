import type { KvMode, SchedulerConfig } from './config.js';
import type { Ranked } from './rank.js';
import type { Request, RowKind } from './types.js';

/** Positions [start, end) of one request that have run depths 0..depth−1 and have not exited. */
export interface Segment {
  readonly start: number;
  readonly end: number;
  /** The depth the span runs next. */
  depth: number;
  readonly kind: RowKind;
  readonly samplesOnExit: boolean;
}

/** Run-time state of one request the scheduler holds (waiting or running). */
export interface RequestState extends Ranked {
  phase: 'waiting' | 'running';
  /** Tokens sampled so far; kept across preemption. */
  generated: number;
  /** Positions the current admission prefills: promptLength + generated at admission time. */
  prefillTarget: number;
  /** Positions handed out as spans since admission (prefill chunks, then one per decode token). */
  issued: number;
  /** Spans not yet exited, sorted by start. */
  segments: Segment[];
  /** KV entries this request holds. */
  kv: number;
}

export function newRequestState(request: Request, seq: number): RequestState {
  return { request, seq, phase: 'waiting', generated: 0, prefillTarget: 0, issued: 0, segments: [], kv: 0 };
}

/** Back to waiting with nothing held but the sampled-token count (recompute-style preemption). */
export function resetToWaiting(state: RequestState): void {
  state.phase = 'waiting';
  state.prefillTarget = 0;
  state.issued = 0;
  state.segments = [];
  state.kv = 0;
}

/** KV entries a span of `length` positions writes when it runs at `depth`. */
export function kvWrites(mode: KvMode, depth: number, length: number): number {
  return mode === 'per-depth' || depth === 0 ? length : 0;
}

/**
 * Most KV entries a request can ever hold: every position it processes (prompt + all but the last
 * sampled token) at every depth it may run. `submit` refuses requests above the budget, so the
 * best-ranked request can always finish by preempting the others.
 */
export function worstCaseKv(request: Request, config: SchedulerConfig): number {
  const positions = request.promptLength + request.maxNewTokens - 1;
  return config.kvMode === 'per-depth' ? positions * config.maxDepth : positions;
}

/**
 * The dependency rule: span (r, [s, e), d) may run only when every earlier position of r has run
 * depth d or exited before it, because its attention at depth d reads their depth-d KV (an early-exited
 * position's state is copied forward by the engine). Positions below `issued` outside all segments
 * have exited; positions are issued in order, so only live earlier segments can block.
 */
export function isRunnable(state: RequestState, segment: Segment): boolean {
  return state.segments.every((other) => other.start >= segment.start || other.depth > segment.depth);
}
