import { kvSlotLayouts } from '../depth/kvPlan.js';
import { FusedOps, TILE_SCORE_FLOATS, type tf } from '@recur/tensor';
import { executionSteps, validateDecoderConfig, type DecoderConfig } from '../config.js';
import { loopStructure, type LoopStructure } from '../depth/loopStructure.js';
import type { LayerCall } from '../layer.js';
import { FastAdapters, type FastAdapterSource } from './fastAdapters.js';
import { copyForward, flatStructure, runDepthStep, type FastDepthKvMode, type FastDepthRow } from './depthStep.js';
import { FastKvCache } from './fastKvCache.js';
import { fastDepthForward, type FastDepthForwardOptions, type FastDepthForwardResult } from './fastDepthForward.js';
import type { DepthKvMode } from '../depth/depthKvCache.js';
import { FastProfile, type FastPhase } from './fastProfile.js';
import { fastWeights, type FastWeights } from './fastWeights.js';
import type { PackedQuant } from './quantWeights.js';
import { layerPass, type FastContext } from './layerPass.js';
import { ropeTables } from './ropePass.js';
import { rmsNormRow } from './rowOps.js';
import { ScratchArena } from './scratch.js';

export interface FastDecoderOptions {
  /** Rows whose logits one LM-head call computes (a decode batch). Scratch grows with it (·V floats). Default 8. */
  readonly maxRows?: number;
  /**
   * Rows per pass through the layers (a prefill chunk and/or a batch): large enough that the
   * register-tiled linears read each weight once for many rows, small enough that a chunk's
   * activations stay in L2. Scratch grows with it (~(4d + q + 2kv + 2ff) floats a row). Default 128:
   * on the SmolLM-135M shape the tiled GEMM streams each weight tile from memory for twice the rows
   * of 64, ≈ 10% more GFLOP/s for gate/up (CPU time, one thread); at 256 the down projection's
   * input (256 × ff floats) no longer fits a 1 MiB L2 and it slows down again.
   */
  readonly chunkRows?: number;
  /** Positions a new cache holds before it first grows (default 256). */
  readonly initialCacheCapacity?: number;
  /** Depth-wise LoRA and per-loop norms (copied into the heap once; the source may be freed after create). */
  readonly adapter?: FastAdapterSource;
  /**
   * Adapter sets a row may pick instead of `adapter` (multi-LoRA serving): a row with adapter id k ≥ 1
   * runs with requestAdapters[k − 1] (which should include the model's own LoRA, e.g. summed with it).
   */
  readonly requestAdapters?: readonly FastAdapterSource[];
  /**
   * Matrices to run quantized, by HF key (copied into the heap packed; the source may be freed after
   * create): their linears stream int8/int4 blocks instead of float32 rows. The float32 tensor of each
   * must still be in `weights` (shapes, and the embedding lookup of a quantized tied head).
   */
  readonly quantized?: ReadonlyMap<string, PackedQuant>;
}

export interface FastForwardOptions {
  /** Keys/values of earlier positions; this call appends to it. Without one, the call starts at position 0. */
  readonly cache?: FastKvCache;
  /** Logits of the last row only ([1, V]) — all generation needs after a prefill. */
  readonly lastOnly?: boolean;
}

export interface FastDepthOptions {
  /** How skipped loops' KV is seen (default 'copy'; 'recursion-wise' needs caches made for it). */
  readonly kvMode?: FastDepthKvMode;
  /** Run the model as one loop of all its steps (rows at loop 0 run everything; sequence-wise batching). */
  readonly flat?: boolean;
}

/** One sequence of a batched call: its cache and its new tokens. */
export interface FastBatchEntry {
  readonly cache: FastKvCache;
  readonly ids: ArrayLike<number>;
}

interface Row {
  readonly cache: FastKvCache;
  readonly id: number;
  readonly pos: number;
  /** Where this row's logits go, or undefined when they are not wanted. */
  readonly out?: { readonly output: Float32Array; readonly at: number };
}

/**
 * The lean decode path: the same model as `Decoder` (same weights, same outputs within float32
 * rounding), run as a fixed sequence of fused kernels over preallocated buffers in the wasm heap —
 * no tfjs op and no tensor allocation per token. Per executed layer step, for the T rows of a call:
 * RMSNorm → one q/k/v job → RoPE and the K/V write in place → attention over the cache (one job) →
 * o-proj added into the residual → RMSNorm → one gate/up job → SiLU·mul → down added into the
 * residual; then final norm and the LM head for the rows whose logits are wanted, maxRows at a
 * time. Linears, attention, norms and SiLU are wasm SIMD kernels on the FusedPool's threads (one
 * sync per job; small jobs run inline); RoPE and the cache writes run in JS.
 *
 * Rows may belong to different sequences (batched decode: each its own cache and position) or be
 * consecutive tokens of one (a prefill, in chunks of chunkRows rows, causal within the chunk);
 * every weight is read once per chunk for all its rows. From 4 rows on the linears are a
 * register-tiled GEMM (3×3 tiles, fused multiply-adds where wasm relaxed SIMD is available): a
 * 256-token prefill runs at ≈ 30 GFLOP/s per thread, decode (1 row) stays on the GEMV kernel. Weights stay where tfjs keeps them: no copy, no extra memory beyond
 * caches and ~(chunkRows·(4d + q + 2kv + 2ff) + maxRows·V floats) of scratch.
 *
 * Adapters (depth-wise LoRA, per-loop norms) join as extra low-rank jobs per run of rows with the
 * same (layer, loop) slot. `runDepthRows` runs rows at different loops of a recursive model in one
 * batched step (continuous depth-wise batching).
 */
export class FastDecoder {
  readonly maxRows: number;
  readonly chunkRows: number;
  /** Per-phase wall time, when `profile.enabled`. */
  readonly profile = new FastProfile();
  private readonly steps: readonly LayerCall[];
  private readonly scratch: ScratchArena;
  private scores: { tensor: tf.Tensor1D; offset: number; positions: number } | undefined;
  private readonly adapters: readonly (FastAdapters | undefined)[];
  private readonly low: { tensor: tf.Tensor1D; offset: number } | undefined;
  private readonly lowRank: number;
  private loopsOf: LoopStructure | undefined;
  private flatOf: LoopStructure | undefined;
  private disposed = false;

  private constructor(
    readonly config: DecoderConfig,
    private readonly ops: FusedOps,
    private readonly weights: FastWeights,
    private readonly options: FastDecoderOptions,
  ) {
    this.maxRows = options.maxRows ?? 8;
    this.chunkRows = Math.max(this.maxRows, options.chunkRows ?? 128);
    this.steps = executionSteps(config);
    const { hiddenSize: d, intermediateSize: ff, vocabSize: V } = config;
    const qkv = (config.numHeads + 2 * config.numKvHeads) * config.headDim;
    const R = this.chunkRows;
    this.scratch = new ScratchArena(ops.runtime, {
      h: R * d,
      xn: R * d,
      qkv: R * qkv,
      att: R * config.numHeads * config.headDim,
      gu: R * 2 * ff,
      logits: this.maxRows * V,
      rowInfo: R * 4,
      kvWrite: R * 4,
      rope: R * config.headDim,
    });
    const sources = [options.adapter, ...(options.requestAdapters ?? [])];
    this.adapters = sources.map((source) => source && new FastAdapters(config, this.steps, source, ops.runtime));
    this.lowRank = Math.max(0, ...this.adapters.map((a) => a?.maxRank ?? 0));
    this.low = this.lowRank > 0 ? ops.runtime.alloc(7 * R * this.lowRank) : undefined;
  }

  /** Why the fast path cannot run this config, or undefined when it can. */
  static unsupported(config: DecoderConfig): string | undefined {
    const dims = { hiddenSize: config.hiddenSize, intermediateSize: config.intermediateSize, headDim: config.headDim };
    for (const [name, value] of Object.entries(dims))
      if (value % 4 !== 0) return `${name} (${value}) is not a multiple of 4`;
    if (config.echoAttention?.length) return 'EchoAtt (reused attention maps) runs on the tfjs executor only';
    return undefined;
  }

  /**
   * A fast decoder over `weights` (the tensors of a `Decoder` on the wasm backend, used in place),
   * or undefined with no error when the active backend has no fused runtime (cpu, webgpu, browser).
   * The caller keeps the weights alive; `dispose()` frees only what this object allocated.
   */
  static async create(
    config: DecoderConfig,
    weights: ReadonlyMap<string, tf.Tensor>,
    options: FastDecoderOptions = {},
  ): Promise<FastDecoder | undefined> {
    validateDecoderConfig(config);
    const reason = FastDecoder.unsupported(config);
    if (reason) throw new RangeError(`FastDecoder: ${reason}`);
    const ops = await FusedOps.create();
    if (!ops) return undefined;
    try {
      return new FastDecoder(config, ops, fastWeights(config, weights, ops.runtime, options.quantized), options);
    } catch (error) {
      ops.dispose();
      throw error;
    }
  }

  /** Adapter sets a row may name (1 + requestAdapters.length; id 0 is the model's own). */
  get adapterSets(): number {
    return this.adapters.length;
  }

  /** Threads the kernels run on. */
  get threads(): number {
    return this.ops.threads;
  }

  /** false: every kernel on the calling thread (bitwise the same results; for tests and profiles). */
  get parallel(): boolean {
    return this.ops.parallel;
  }

  set parallel(value: boolean) {
    this.ops.parallel = value;
  }

  /**
   * A sequence's cache. With a per-token-depth KV mode its loop slots are laid out for it:
   * 'recursion-wise' compact (only the tokens that ran a loop), 'shared' loops ≥ 1 never written.
   */
  newCache(initialCapacity = this.options.initialCacheCapacity ?? 256, kvMode?: DepthKvMode): FastKvCache {
    const { config } = this;
    const layout =
      kvMode === undefined ? {} : { kvMode, slots: kvSlotLayouts(this.steps.length, this.structure, kvMode) };
    return new FastKvCache(
      this.ops.runtime,
      this.steps.length,
      config.numKvHeads,
      config.headDim,
      config.maxPositionEmbeddings,
      initialCapacity,
      layout,
    );
  }

  /**
   * Per-token depth on the fused kernels, for prefill chunks and decode alike: the tfjs executor's
   * depthForward (@recur/router) step for step, routed by `routing` (expert or token choice; none: full
   * depth) under a KV mode. Advances the cache by ids.length. See fastDepthForward.
   */
  forwardDepth(ids: ArrayLike<number>, options: FastDepthForwardOptions): FastDepthForwardResult {
    if (this.disposed) throw new Error('FastDecoder used after dispose()');
    return fastDepthForward(this.context(), this.structure, ids, options);
  }

  /** ids: the T new tokens → logits [T·V] (or [V] with lastOnly). Advances the cache by T. */
  forward(ids: ArrayLike<number>, options: FastForwardOptions = {}): Float32Array {
    const cache = options.cache ?? this.newCache(ids.length);
    try {
      const [logits] = this.forwardBatch([{ cache, ids }], { lastOnly: options.lastOnly ?? false });
      return logits!;
    } finally {
      if (!options.cache) cache.dispose();
    }
  }

  /**
   * Several sequences in one pass per kernel (rows of all entries share each weight read): per
   * entry, logits [ids.length·V], or [V] of its last token with lastOnly. Advances every cache.
   */
  forwardBatch(entries: readonly FastBatchEntry[], options: { readonly lastOnly?: boolean } = {}): Float32Array[] {
    if (this.disposed) throw new Error('FastDecoder used after dispose()');
    const V = this.config.vocabSize;
    const outputs: Float32Array[] = [];
    const rows: Row[] = [];
    const seen = new Set<FastKvCache>();
    for (const { cache, ids } of entries) {
      if (seen.has(cache)) throw new Error('FastDecoder.forwardBatch: one cache appears in two entries');
      seen.add(cache);
      cache.reserve(cache.length + ids.length);
      const lastOnly = options.lastOnly ?? false;
      const output = new Float32Array((lastOnly ? Math.min(1, ids.length) : ids.length) * V);
      outputs.push(output);
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        if (!Number.isInteger(id) || id < 0 || id >= V)
          throw new RangeError(`token id ${id} is outside the vocabulary (0..${V - 1})`);
        const wanted = !lastOnly || i === ids.length - 1;
        rows.push({ cache, id, pos: cache.length + i, ...(wanted ? { out: { output, at: lastOnly ? 0 : i } } : {}) });
      }
    }
    this.ensureScores(Math.max(1, ...entries.map((e) => e.cache.length + e.ids.length)));
    for (let start = 0; start < rows.length; start += this.chunkRows)
      this.runRows(rows.slice(start, start + this.chunkRows));
    for (const { cache, ids } of entries) cache.advance(ids.length);
    return outputs;
  }

  /** Every step as one loop (rows then have loop 0 and run the whole model; what `flat` runs). */
  get flat(): LoopStructure {
    this.flatOf ??= flatStructure(this.steps);
    return this.flatOf;
  }

  /** The model as prologue, loops and epilogue (throws a ConfigError for orders that are not one looped block). */
  get structure(): LoopStructure {
    this.loopsOf ??= loopStructure(this.config);
    return this.loopsOf;
  }

  /**
   * One batched step of rows at different loops (continuous depth-wise batching): see `runDepthStep`.
   * Caches grow to hold every row's position; the caller tracks positions and states.
   */
  runDepthRows(rows: readonly FastDepthRow[], options: FastDepthOptions = {}): void {
    if (this.disposed) throw new Error('FastDecoder used after dispose()');
    for (const row of rows) {
      if (!Number.isInteger(row.id) || row.id < 0 || row.id >= this.config.vocabSize)
        throw new RangeError(`token id ${row.id} is outside the vocabulary (0..${this.config.vocabSize - 1})`);
    }
    runDepthStep(this.context(), options.flat ? this.flat : this.structure, options.kvMode ?? 'copy', rows);
    this.profile.count(rows.reduce((n, row) => n + (row.readoutOnly === true ? 0 : 1), 0)); // rows that ran a loop
  }

  /** A position that exited after `depth` loops: under 'copy' its last loop's KV is carried into the deeper loops' slots. */
  exitPosition(cache: FastKvCache, pos: number, depth: number, kvMode: FastDepthKvMode = 'copy'): void {
    copyForward(this.structure, kvMode, cache, pos, depth);
  }

  /** Frees the scratch buffers (not the weights, which belong to the caller). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.scratch.dispose();
    this.scores?.tensor.dispose();
    for (const adapters of this.adapters) adapters?.dispose();
    this.low?.tensor.dispose();
    for (const t of this.weights.owned) t.dispose();
    this.ops.dispose();
  }

  /** Runs up to chunkRows rows through every layer step; writes the wanted rows' logits to their outputs. */
  private runRows(rows: readonly Row[]): void {
    const { config, ops, scratch: S, profile } = this;
    const d = config.hiddenSize;
    let f32 = ops.runtime.f32;
    const ctx = this.context();

    let phase = profile.start();
    for (const [t, row] of rows.entries())
      f32.copyWithin(
        (S.at('h') >>> 2) + t * d,
        (this.weights.embed >>> 2) + row.id * d,
        (this.weights.embed >>> 2) + (row.id + 1) * d,
      );
    ropeTables(ctx, rows);
    phase = profile.lap('embed', phase);
    // The last layer computes outputs for the wanted rows only, packed to rows 0, 1, … of h.
    const wanted = rows.flatMap((row, t) => (row.out ? [{ t, out: row.out }] : []));
    const outRows = wanted.map(({ t }) => t);
    for (const [i, call] of this.steps.entries())
      layerPass(
        ctx,
        rows,
        rows.map(() => ({ call, write: call.step, read: call.step })),
        i === this.steps.length - 1 ? outRows : undefined,
      );
    const hRow = (n: number): number => (this.steps.length > 0 ? n : wanted[n]!.t);

    // Final norm of the wanted rows, packed, then the LM head over them only, maxRows at a time.
    phase = profile.start();
    const V = config.vocabSize;
    for (let g = 0; g < wanted.length; g += this.maxRows) {
      const group = wanted.slice(g, g + this.maxRows);
      f32 = ops.runtime.f32;
      group.forEach((_, n) =>
        rmsNormRow(
          f32,
          (S.at('h') >>> 2) + hRow(g + n) * d,
          (S.at('xn') >>> 2) + n * d,
          this.weights.finalNorm,
          config.rmsNormEps,
        ),
      );
      ops.linear([{ ...this.weights.head, x: S.at('xn'), y: S.at('logits'), rows: V, k: d, T: group.length }]);
      f32 = ops.runtime.f32;
      group.forEach(({ out }, n) =>
        out.output.set(f32.subarray((S.at('logits') >>> 2) + n * V, (S.at('logits') >>> 2) + (n + 1) * V), out.at * V),
      );
    }
    profile.lap('head', phase);
    profile.count(rows.length);
  }

  /** The kernels, weights and scratch a pass needs. */
  private context(): FastContext {
    return {
      config: this.config,
      ops: this.ops,
      weights: this.weights,
      scratch: this.scratch,
      adapters: this.adapters,
      low: this.low?.offset ?? 0,
      lowRank: this.lowRank,
      chunkRows: this.chunkRows,
      maxRows: this.maxRows,
      profile: this.profile,
      scores: (positions) => {
        this.ensureScores(positions);
        return this.scores!;
      },
    };
  }

  /** Score scratch for contexts up to `positions` (rows × heads × positions floats; the tiled kernel's rows need TILE_SCORE_FLOATS). */
  private ensureScores(positions: number): void {
    if (this.scores && this.scores.positions >= positions) return;
    const size = Math.max(positions, 2 * (this.scores?.positions ?? 0), 64, TILE_SCORE_FLOATS);
    this.scores?.tensor.dispose();
    this.scores = { ...this.ops.runtime.alloc(this.chunkRows * this.config.numHeads * size), positions: size };
  }
}

export type { FastPhase };
