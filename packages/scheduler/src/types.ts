/** A generation request as the scheduler sees it: lengths only, never token ids. */
export interface Request {
  /** Unique among the requests the scheduler holds. */
  readonly id: string;
  /** Prompt positions to prefill (≥ 1). */
  readonly promptLength: number;
  /** Tokens to sample at most (≥ 1); the engine may finish earlier (EOS, stop string). */
  readonly maxNewTokens: number;
  /** Under policy 'priority': lower values run first (vLLM's convention). Default 0. */
  readonly priority?: number;
  /** Arrival time in any unit; orders requests (ties broken by submission order). */
  readonly arrival: number;
  /** Per-request adapter id (multi-LoRA serving); default 0. See `RowPlan.adapter`. */
  readonly adapter?: number;
}

export type RowKind = 'prefill' | 'decode';

/** One row of a step: a contiguous span of one request's positions, run through the shared block at one depth. */
export interface RowPlan {
  readonly requestId: string;
  /** First position of the span. */
  readonly start: number;
  /** One past the last position; end − start is 1 for decode, up to prefillChunk for prefill. */
  readonly end: number;
  /** Loop index 0..maxDepth−1 the span runs at (the prologue of middle-* models belongs to depth 0). */
  readonly depth: number;
  /**
   * Flat slot in a table of `adapterCount × maxDepth` LoRA slots (row-major): `request.adapter · maxDepth + depth`.
   * Without per-request adapters this is the depth, i.e. the depth-wise LoRA of that loop.
   */
  readonly adapter: number;
  /**
   * 'prefill' spans hold known tokens (prompt, or prompt +
   * generated after a preemption); 'decode' is one sampled token.
   */
  readonly kind: RowKind;
  /** When this row exits, the engine samples the request's next token from the span's last position and reports it. */
  readonly samplesOnExit: boolean;
}

/** What one engine step must run, and the bookkeeping the engine must mirror. */
export interface StepPlan {
  /** 0-based count of plans made so far. */
  readonly step: number;
  /** Rows for one batched call of the shared block; may be empty when nothing can run. */
  readonly rows: readonly RowPlan[];
  /** Requests preempted by this plan: the engine drops their KV and per-token state (they will re-prefill). */
  readonly preempted: readonly string[];
  /** Requests admitted by this plan (their first prefill chunk is among `rows`). */
  readonly admitted: readonly string[];
  /** Sum of the rows' span lengths. */
  readonly tokens: number;
  /** KV entries in use once this step has run (the plan's writes included). */
  readonly kvUsed: number;
}

/** What happened to one planned row. */
export interface RowResult {
  readonly requestId: string;
  readonly start: number;
  readonly end: number;
  readonly depth: number;
  /**
   * True when the span stops here (reached maxDepth, an early-exit policy or router); false: it runs depth + 1 next.
   */
  readonly exited: boolean;
}

/** The token sampled after a row with `samplesOnExit` exited. */
export interface SampledToken {
  readonly requestId: string;
  /** True when the engine ends the request here (EOS, stop string); reaching maxNewTokens ends it anyway. */
  readonly finished: boolean;
}

/** The engine's report for one plan: every planned row once, and one sample per exited sampling row. */
export interface StepResult {
  readonly rows: readonly RowResult[];
  readonly sampled: readonly SampledToken[];
}

export type FinishReason = 'length' | 'stop';

export interface FinishedRequest {
  readonly requestId: string;
  /** Tokens sampled in all (preemptions do not lose them). */
  readonly generated: number;
  /** 'length': reached maxNewTokens; 'stop': the engine said so. */
  readonly reason: FinishReason;
}

/** What `complete` changed that a caller may need to act on. */
export interface CompletionReport {
  readonly finished: readonly FinishedRequest[];
}

/** Counters for metrics (`GET /metrics`) and tests. */
export interface SchedulerStats {
  /** Plans made so far. */
  readonly steps: number;
  /** Requests waiting for admission (new and preempted). */
  readonly waiting: number;
  /** Requests admitted and not finished. */
  readonly running: number;
  /** Spans that have run at least one depth and not exited yet. */
  readonly rowsInFlight: number;
  readonly kvUsed: number;
  readonly kvBudget: number;
  /** rowsByDepth[d]: rows executed at depth d (from completed steps). */
  readonly rowsByDepth: readonly number[];
  /** tokensByDepth[d]: positions executed at depth d; Σ d·t / Σ t is the average depth. */
  readonly tokensByDepth: readonly number[];
  readonly finished: number;
  readonly cancelled: number;
  readonly preemptions: number;
}
