import { FastDecoder, validateDepthRouting, type DepthRouting, type FastProfile } from '@recur/graph';
import { Scheduler, SchedulerError, type StepPlan } from '@recur/scheduler';
import { activeBackend, Mulberry32 as SeededRandom } from '@recur/tensor';
import { checkExitDepth, defaultKvMode, depthRouting } from '../depth/exitRule.js';
import { sumLoras } from '@recur/lora';
import { fastAdapterSource } from '../fast.js';
import type { LoadedModel } from '../model.js';
import { sampleToken, type SamplingOptions } from '../sampling.js';
import { resolveServing, type ServingEngineOptions } from './options.js';
import { runRoutedStep, type RoutedOwner } from './routedStep.js';
import { runStep, type StepSettings } from './stepRunner.js';
import type {
  ServeCallbacks,
  ServeFinishReason,
  ServeRequest,
  ServeResult,
  ServeStats,
  ServingEngine,
} from './types.js';

interface Live extends RoutedOwner {
  readonly id: string;
  readonly request: ServeRequest;
  readonly callbacks: ServeCallbacks;
  readonly tokens: number[];
  readonly ids: number[];
  readonly depths: number[];
  readonly sampling: SamplingOptions;
  readonly random: SeededRandom;
  readonly submittedAt: number;
  firstTokenAt: number | undefined;
  readonly resolve: (result: ServeResult) => void;
  readonly reject: (error: unknown) => void;
  readonly onAbort: () => void;
}

/**
 * The serving engine (`recur serve`, `pnpm bench:serve`): requests go to @recur/scheduler; each of
 * its plans runs as one batched call of the model on the fast path — rows at different loops of a
 * recursive model share every weight read (continuous depth-wise batching). Runs in the background
 * on the event loop, one step per macrotask, so submits and aborts land between steps.
 */
export async function createServingEngine(
  model: LoadedModel,
  options: ServingEngineOptions = {},
): Promise<ServingEngine & { readonly profile: FastProfile }> {
  if (activeBackend() !== 'wasm')
    throw new Error(
      `createServingEngine: the serving engine runs on the wasm backend; the backend is ${activeBackend()}`,
    );
  const resolved = resolveServing(options, 1);
  const requestLoras = (options.adapters ?? []).map((a) => (model.lora ? sumLoras([model.lora, a]) : a));
  const fast = await FastDecoder.create(model.decoder.config, model.decoder.weights, {
    maxRows: resolved.scheduler.maxRowsPerStep ?? 32,
    chunkRows: Math.max(64, resolved.scheduler.maxRowsPerStep ?? 32),
    ...(model.lora && { adapter: fastAdapterSource(model.lora) }),
    ...(requestLoras.length > 0 && { requestAdapters: requestLoras.map(fastAdapterSource) }),
  }).finally(() => {
    if (model.lora) for (const lora of requestLoras) lora.dispose(); // sums made here; the heap holds copies
  });
  if (!fast) throw new Error('createServingEngine: no fused-kernel runtime on this wasm backend');
  if (options.threads === 1) fast.parallel = false;
  let loops = 1;
  try {
    loops = fast.structure.loops.length;
  } catch {
    loops = 1; // orders that are not one looped block (SEQUENCE) run whole-model rows only
  }
  try {
    if (options.exit) checkExitDepth(options.exit, loops);
    const routing = servedRouting(model, options, loops);
    return new Engine(model, fast, loops, options, routing);
  } catch (error) {
    fast.dispose();
    throw error;
  }
}

/**
 * The routing a router model is served with: its trained router unless `router: false` or an exit
 * policy replaces it (see ServingEngineOptions.router). Routing runs one loop per step, so a flat
 * mode ('continuous-sequence') on a router model is refused rather than run ungated.
 */
function servedRouting(model: LoadedModel, options: ServingEngineOptions, loops: number): DepthRouting | undefined {
  if (options.router && !model.recur?.router)
    throw new RangeError(
      `${model.source.path}: router serving needs a model trained with a router (recur train --router)`,
    );
  if (!model.recur?.router || options.router === false || options.exit || options.continueAfter) return undefined;
  const routing = depthRouting(model, {
    kind: 'router',
    ...(options.router?.threshold !== undefined && { threshold: options.router.threshold }),
  });
  validateDepthRouting(routing, model.config.hiddenSize, loops);
  if (!resolveServing(options, loops).depthWise) {
    throw new RangeError(
      `mode ${options.mode ?? 'continuous-sequence'} runs every loop in one step, so it cannot route; serve this ${model.recur.router.kind}-choice router model depth-wise (continuous-depth), or at full depth with router: false (--exit none)`,
    );
  }
  return routing;
}

class Engine implements ServingEngine {
  readonly maxDepth: number;
  private readonly scheduler: Scheduler;
  private readonly settings: StepSettings;
  private readonly live = new Map<string, Live>();
  private readonly eosId: number | undefined;
  private nextId = 0;
  private draining = false;
  private looping = false;
  private disposed = false;
  private readonly drainWaiters: (() => void)[] = [];
  private readonly recent: number[] = [];
  private counters = { rowsInLastStep: 0, stepsRun: 0, generatedTokens: 0, finished: 0, cancelled: 0 };
  private readonly depthHistogram: number[];
  private readonly perAdapter: { generatedTokens: number; finished: number }[];

  constructor(
    private readonly model: LoadedModel,
    private readonly fast: FastDecoder,
    loops: number,
    private readonly options: ServingEngineOptions,
    routing: DepthRouting | undefined,
  ) {
    const resolved = resolveServing(options, loops, routing && defaultKvMode(model, { kind: 'router' }));
    this.maxDepth = loops;
    this.scheduler = new Scheduler(resolved.scheduler);
    const flat = !resolved.depthWise;
    this.settings = {
      fast,
      flat,
      loops: flat ? 1 : loops,
      depthOf: (r) => (flat ? loops : r + 1),
      kvMode: resolved.kvMode,
      exit: options.exit,
      continueAfter: options.continueAfter,
      ...(routing && { routing }),
    };
    this.eosId = options.eosId ?? model.tokenizer.eosId ?? undefined;
    this.depthHistogram = new Array<number>(loops).fill(0);
    this.perAdapter = Array.from({ length: fast.adapterSets }, () => ({ generatedTokens: 0, finished: 0 }));
  }

  get profile(): FastProfile {
    return this.fast.profile;
  }

  submit(request: ServeRequest, callbacks: ServeCallbacks = {}): Promise<ServeResult> {
    if (this.draining || this.disposed) return Promise.reject(new Error('serving engine is draining; no new requests'));
    try {
      this.validate(request);
    } catch (err) {
      return Promise.reject(err);
    }
    if (callbacks.signal?.aborted)
      return Promise.resolve({ ids: [], depths: [], finishReason: 'cancelled', firstTokenMs: 0, totalMs: 0 });
    const id = `r${this.nextId++}`;
    return new Promise<ServeResult>((resolve, reject) => {
      const s = request.sampling ?? {};
      const live: Live = {
        id,
        request,
        callbacks,
        tokens: [...request.promptIds],
        promptLength: request.promptIds.length,
        ids: [],
        depths: [],
        cache: undefined,
        spans: new Map(),
        routed: undefined,
        adapter: request.adapter ?? 0,
        sampling: { temperature: s.temperature ?? 0, topK: s.topK ?? 0, topP: s.topP ?? 1 },
        random: new SeededRandom(s.seed ?? 0),
        submittedAt: performance.now(),
        firstTokenAt: undefined,
        resolve,
        reject,
        onAbort: () => this.cancel(id),
      };
      try {
        this.scheduler.submit({
          id,
          promptLength: request.promptIds.length,
          maxNewTokens: request.maxNewTokens,
          arrival: live.submittedAt,
          adapter: live.adapter ?? 0,
          ...(request.priority !== undefined && { priority: request.priority }),
        });
      } catch (err) {
        reject(err instanceof SchedulerError ? new RangeError(err.message) : err);
        return;
      }
      this.live.set(id, live);
      callbacks.signal?.addEventListener('abort', live.onAbort, { once: true });
      this.kick();
    });
  }

  stats(): ServeStats {
    const s = this.scheduler.stats();
    const now = performance.now();
    const window = this.options.rateWindowMs ?? 5000;
    while (this.recent.length > 0 && this.recent[0]! < now - window) this.recent.shift();
    const span = this.recent.length > 1 ? Math.max(now - this.recent[0]!, 1) : 0;
    return {
      waiting: s.waiting,
      running: s.running,
      ...this.counters,
      preemptions: s.preemptions,
      tokensPerSecond: span > 0 ? (this.recent.length * 1000) / span : 0,
      depthHistogram: [...this.depthHistogram],
      perAdapter: this.perAdapter.map((a) => ({ ...a })),
    };
  }

  drain(): Promise<void> {
    this.draining = true;
    if (this.live.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const live of [...this.live.values()]) this.end(live, 'cancelled');
    this.fast.dispose();
  }

  private validate(request: ServeRequest): void {
    const V = this.model.decoder.config.vocabSize;
    const context = this.model.decoder.config.maxPositionEmbeddings;
    const { promptIds, maxNewTokens } = request;
    if (!Array.isArray(promptIds) || promptIds.length < 1)
      throw new RangeError('promptIds must hold at least one token id');
    for (const id of promptIds)
      if (!Number.isInteger(id) || id < 0 || id >= V)
        throw new RangeError(`prompt token id ${id} is outside the vocabulary (0..${V - 1})`);
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1)
      throw new RangeError(`maxNewTokens must be a whole number ≥ 1, got ${maxNewTokens}`);
    const adapter = request.adapter ?? 0;
    if (!Number.isInteger(adapter) || adapter < 0 || adapter >= this.fast.adapterSets)
      throw new RangeError(`adapter ${adapter} is not one of the engine's (0..${this.fast.adapterSets - 1})`);
    if (request.domain !== undefined && request.domain !== this.model.domain?.active)
      throw new RangeError(`domain ${request.domain}: this engine runs ${this.model.domain?.active ?? 'no domain'}`);
    if (promptIds.length + maxNewTokens > context)
      throw new RangeError(
        `prompt (${promptIds.length}) + maxNewTokens (${maxNewTokens}) exceeds the model's context (${context})`,
      );
  }

  private cancel(id: string): void {
    const live = this.live.get(id);
    if (!live) return;
    this.scheduler.cancel(id);
    this.counters.cancelled++;
    this.end(live, 'cancelled');
  }

  private kick(): void {
    if (this.looping || this.disposed) return;
    this.looping = true;
    setImmediate(() => this.tick());
  }

  /** One plan per macrotask while there is work. */
  private tick(): void {
    this.looping = false;
    if (this.disposed || !this.scheduler.busy) return;
    try {
      const plan = this.scheduler.schedule();
      if (plan.rows.length > 0) this.run(plan);
    } catch (err) {
      for (const live of [...this.live.values()]) {
        this.scheduler.cancel(live.id);
        this.drop(live);
        live.reject(err);
      }
      this.settleDrain();
      return;
    }
    this.kick();
  }

  private run(plan: StepPlan): void {
    for (const id of plan.preempted) {
      const live = this.live.get(id);
      if (live) this.dropKv(live);
    }
    const { routing } = this.settings;
    const { results, samples } = routing
      ? runRoutedStep({ ...this.settings, routing }, plan.rows, this.live)
      : runStep(this.settings, plan.rows, this.live);
    const failed: [Live, unknown][] = [];
    const sampled = samples.map(({ requestId, logits, depth }) => {
      const live = this.live.get(requestId)!;
      const id = sampleToken(logits, live.sampling, live.random);
      const stop = (live.request.stopAtEos ?? true) && id === this.eosId;
      live.tokens.push(id);
      try {
        live.callbacks.onLogits?.(logits, depth);
        if (!stop) this.emit(live, id, depth);
      } catch (err) {
        failed.push([live, err]); // a caller's callback threw: that request fails, the others go on
      }
      return { requestId, finished: stop };
    });
    this.counters.rowsInLastStep = plan.rows.length;
    this.counters.stepsRun++;
    const { finished } = this.scheduler.complete({ rows: results, sampled });
    for (const f of finished) {
      const live = this.live.get(f.requestId);
      if (live) this.end(live, f.reason);
    }
    for (const [live, err] of failed) {
      if (!this.live.has(live.id)) continue;
      this.scheduler.cancel(live.id);
      this.drop(live);
      live.reject(err);
      this.settleDrain();
    }
  }

  private emit(live: Live, id: number, depth: number): void {
    const now = performance.now();
    live.firstTokenAt ??= now;
    live.ids.push(id);
    live.depths.push(depth);
    this.counters.generatedTokens++;
    this.perAdapter[live.adapter ?? 0]!.generatedTokens++;
    this.depthHistogram[depth - 1] = (this.depthHistogram[depth - 1] ?? 0) + 1;
    this.recent.push(now);
    if (this.recent.length > 100_000) this.recent.splice(0, 50_000);
    live.callbacks.onToken?.(id, depth);
  }

  private end(live: Live, reason: ServeFinishReason): void {
    const now = performance.now();
    this.drop(live);
    if (reason !== 'cancelled') this.counters.finished++;
    if (reason !== 'cancelled') this.perAdapter[live.adapter ?? 0]!.finished++;
    live.resolve({
      ids: live.ids,
      depths: live.depths,
      finishReason: reason,
      firstTokenMs: (live.firstTokenAt ?? now) - live.submittedAt,
      totalMs: now - live.submittedAt,
    });
    this.settleDrain();
  }

  private drop(live: Live): void {
    this.live.delete(live.id);
    live.callbacks.signal?.removeEventListener('abort', live.onAbort);
    this.dropKv(live);
  }

  private dropKv(live: Live): void {
    live.cache?.dispose();
    live.cache = undefined;
    live.spans.clear();
    live.routed = undefined;
  }

  private settleDrain(): void {
    if (this.live.size > 0) return;
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}
