/**
 * The serving engine's public contract: what `recur serve` (apps/cli) and `pnpm bench:serve` call.
 * Token ids in, token ids out; text, HTTP and stop strings belong to the caller.
 */

/** How a request's tokens are chosen (greedy when temperature is 0 or absent). */
export interface ServeSampling {
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  /** Seed of the request's own generator (default 0): the same request samples the same tokens. */
  readonly seed?: number;
}

export interface ServeRequest {
  /** Prompt token ids, BOS included (≥ 1 id). */
  readonly promptIds: readonly number[];
  /** Tokens to generate at most (≥ 1). */
  readonly maxNewTokens: number;
  readonly sampling?: ServeSampling;
  /** Stop at the end-of-sequence token (default true; the EOS id is not returned). */
  readonly stopAtEos?: boolean;
  /** Under the 'priority' policy: lower runs first (default 0). */
  readonly priority?: number;
  /**
   * Which of the engine's `adapters` the request runs with: k ≥ 1 is adapters[k − 1], 0 or absent the
   * model alone. Requests with different adapters share every batched step.
   */
  readonly adapter?: number;
  /**
   * Models with per-domain ends (Uni-X): the domain whose ends run the request (absent: the engine's
   * own; an engine serving one domain refuses another, see createDomainServingEngine).
   */
  readonly domain?: string;
}

export interface ServeCallbacks {
  /** Each generated token as soon as it is sampled, with the loops (depth, 1..N) its last position ran. */
  readonly onToken?: (id: number, depth: number) => void;
  /** Aborting cancels the request: its KV is freed and `submit` resolves with finishReason 'cancelled'. */
  readonly signal?: AbortSignal;
  /** The logits [V] each generated token was sampled from, with its depth (tests, analysis). */
  readonly onLogits?: (logits: Float32Array, depth: number) => void;
}

export type ServeFinishReason = 'length' | 'stop' | 'cancelled';

export interface ServeResult {
  /** Generated ids only (EOS excluded). */
  readonly ids: readonly number[];
  /** depths[i]: loops run by the position that produced ids[i]. */
  readonly depths: readonly number[];
  readonly finishReason: ServeFinishReason;
  /** Milliseconds from submit to the first token, and to the end. */
  readonly firstTokenMs: number;
  readonly totalMs: number;
}

/** Counters for GET /metrics. */
export interface ServeStats {
  readonly waiting: number;
  readonly running: number;
  /** Rows in the last executed step. */
  readonly rowsInLastStep: number;
  readonly stepsRun: number;
  readonly generatedTokens: number;
  /** Generated tokens per second over a recent window (0 when idle). */
  readonly tokensPerSecond: number;
  /** depthHistogram[d − 1]: generated tokens whose position exited at depth d. */
  readonly depthHistogram: readonly number[];
  readonly finished: number;
  readonly cancelled: number;
  /** Requests preempted for KV and re-prefilled later (their tokens do not change). */
  readonly preemptions?: number;
  /** Per adapter id (0: the model alone, k: adapters[k − 1]): generated tokens and finished requests. */
  readonly perAdapter?: readonly { readonly generatedTokens: number; readonly finished: number }[];
}

export interface ServingEngine {
  /** Loops N of the model being served (1 for a vanilla model). */
  readonly maxDepth: number;
  /** Queues a request; rejects at once (RangeError) for bad input, e.g. prompt + maxNewTokens over the context. */
  submit(request: ServeRequest, callbacks?: ServeCallbacks): Promise<ServeResult>;
  stats(): ServeStats;
  /** Stops admitting (submit rejects) and resolves once every queued and running request has finished. */
  drain(): Promise<void>;
  /** Frees everything the engine allocated (caches, scratch); the model stays with its owner. */
  dispose(): void;
}
