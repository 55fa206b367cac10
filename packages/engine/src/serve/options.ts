import { depthKvModes, type FastDepthKvMode } from '@recur/graph';
import type { DepthwiseLora } from '@recur/lora';
import type { ExitPolicy } from '@recur/router';
import { baselineConfig, type SchedulerConfig, type ServingMode } from '@recur/scheduler';

/**
 * A router's say at decode time: after loop `loop` (0-based) of a generated token, given its readout
 * logits [V] and hidden state [d], true keeps it going to loop + 1. Overrides `exit`.
 */
export type ContinueAfter = (loop: number, logits: Float32Array, hidden: Float32Array) => boolean;

export interface ServingEngineOptions {
  /**
   * Which of the CDB comparison's modes to run (default: 'continuous-depth' for a recursive model,
   * 'continuous-sequence' for a plain one). 'continuous-sequence' runs every row through the whole
   * model in one step (the vanilla baseline); the others run one loop per step.
   */
  readonly mode?: ServingMode;
  /** Requests per batch under 'static' (default: all that fit). */
  readonly staticBatch?: number;
  /** Scheduler limits (rows and tokens per step, prefill chunk, KV budget, policy…); mode and loops are set here. */
  readonly scheduler?: Partial<Omit<SchedulerConfig, 'maxDepth' | 'batching' | 'kvMode'>>;
  /**
   * A model trained with a MoR router is served with it by default: every position, prompt and
   * generated, routed as trained. false: full depth, loops ungated (`--exit none`); `threshold`: one
   * expert-choice σ threshold for every recursion (`--exit router:T`). An `exit` policy replaces the router.
   */
  readonly router?: false | { readonly threshold?: number };
  /** Early exit of generated tokens (prompts always run every loop). Default: none, every token runs N loops (router models: their router). */
  readonly exit?: ExitPolicy;
  readonly continueAfter?: ContinueAfter;
  /** KV of loops a token skipped: 'copy' (default; router models: as trained), 'shared' (recursive KV sharing) or 'recursion-wise' (each loop's cache holds the tokens that ran it). */
  readonly kvMode?: FastDepthKvMode;
  /** 1 runs every kernel on the calling thread; default: the backend's threads. */
  readonly threads?: number;
  /** End-of-sequence id (default: the tokenizer's). */
  readonly eosId?: number;
  /** Window of `stats().tokensPerSecond` in ms (default 5000). */
  readonly rateWindowMs?: number;
  /**
   * LoRA adapters a request may pick (ServeRequest.adapter k ≥ 1 → adapters[k − 1]); each adds its delta
   * to the model's own LoRA. Copied into the fast path's heap at create; the caller keeps (and frees) them.
   */
  readonly adapters?: readonly DepthwiseLora[];
}

export interface ResolvedServing {
  readonly mode: ServingMode;
  /** One loop per step (false: 'continuous-sequence', the whole model per step). */
  readonly depthWise: boolean;
  readonly scheduler: Partial<SchedulerConfig>;
  readonly kvMode: FastDepthKvMode;
}

/** Mode, loops and scheduler config for a model with `loops` loops (`trainedKv`: a router model's KV mode). */
export function resolveServing(
  options: ServingEngineOptions,
  loops: number,
  trainedKv?: FastDepthKvMode,
): ResolvedServing {
  const mode = options.mode ?? (loops > 1 ? 'continuous-depth' : 'continuous-sequence');
  const depthWise = mode !== 'continuous-sequence' && loops > 1;
  const kvMode = options.kvMode ?? trainedKv ?? 'copy';
  if (!depthKvModes.includes(kvMode))
    throw new RangeError(`serving kvMode "${String(kvMode)}" (expected ${depthKvModes.join(', ')})`);
  const base = baselineConfig(mode, {
    maxDepth: loops,
    ...(options.staticBatch !== undefined && { batch: options.staticBatch }),
  });
  return {
    mode,
    depthWise,
    kvMode,
    scheduler: {
      maxRowsPerStep: 32,
      tokenBudgetPerStep: 256,
      prefillChunk: 64,
      ...options.scheduler,
      ...base,
      maxDepth: depthWise ? loops : 1,
      kvMode: depthWise && kvMode === 'shared' ? 'shared-first' : 'per-depth',
    },
  };
}
