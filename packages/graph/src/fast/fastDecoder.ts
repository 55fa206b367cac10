import { FusedOps, type LinearJob, type tf } from '@recur/tensor';
import { executionSteps, validateDecoderConfig, type DecoderConfig } from '../config.js';
import type { LayerCall } from '../layer.js';
import { FastKvCache } from './fastKvCache.js';
import { FastProfile, type FastPhase } from './fastProfile.js';
import { fastWeights, type FastLayerWeights, type FastWeights } from './fastWeights.js';
import { addRow, rmsNormRow, ropeRow } from './rowOps.js';
import { ScratchArena } from './scratch.js';

export interface FastDecoderOptions {
  /** Rows whose logits one LM-head call computes (a decode batch). Scratch grows with it (·V floats). Default 8. */
  readonly maxRows?: number;
  /**
   * Rows per pass through the layers (a prefill chunk and/or a batch): large enough that the
   * register-tiled linears read each weight once for many rows, small enough that a chunk's
   * activations stay in L2. Scratch grows with it (~(4d + q + 2kv + 2ff) floats a row). Default 64.
   */
  readonly chunkRows?: number;
  /** Positions a new cache holds before it first grows (default 256). */
  readonly initialCacheCapacity?: number;
}

export interface FastForwardOptions {
  /** Keys/values of earlier positions; this call appends to it. Without one, the call starts at position 0. */
  readonly cache?: FastKvCache;
  /** Logits of the last row only ([1, V]) — all generation needs after a prefill. */
  readonly lastOnly?: boolean;
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
 * Not covered yet: adapters (LoRA, per-loop norms) — callers with an adapter use `Decoder`.
 */
export class FastDecoder {
  readonly maxRows: number;
  readonly chunkRows: number;
  /** Per-phase wall time, when `profile.enabled`. */
  readonly profile = new FastProfile();
  private readonly steps: readonly LayerCall[];
  private readonly scratch: ScratchArena;
  private readonly ropeCos: Float32Array;
  private readonly ropeSin: Float32Array;
  private scores: { tensor: tf.Tensor1D; offset: number; positions: number } | undefined;
  private disposed = false;

  private constructor(
    readonly config: DecoderConfig,
    private readonly ops: FusedOps,
    private readonly weights: FastWeights,
    private readonly options: FastDecoderOptions,
  ) {
    this.maxRows = options.maxRows ?? 8;
    this.chunkRows = Math.max(this.maxRows, options.chunkRows ?? 64);
    this.steps = executionSteps(config);
    const { hiddenSize: d, intermediateSize: ff, vocabSize: V } = config;
    const qkv = (config.numHeads + 2 * config.numKvHeads) * config.headDim;
    const R = this.chunkRows;
    this.scratch = new ScratchArena(ops.runtime, {
      h: R * d, xn: R * d, qkv: R * qkv, att: R * config.numHeads * config.headDim, gu: R * 2 * ff, logits: this.maxRows * V, rowInfo: R * 4,
    });
    this.ropeCos = new Float32Array(R * (config.headDim / 2));
    this.ropeSin = new Float32Array(R * (config.headDim / 2));
  }

  /** Why the fast path cannot run this config, or undefined when it can. */
  static unsupported(config: DecoderConfig): string | undefined {
    const dims = { hiddenSize: config.hiddenSize, intermediateSize: config.intermediateSize, headDim: config.headDim };
    for (const [name, value] of Object.entries(dims)) if (value % 4 !== 0) return `${name} (${value}) is not a multiple of 4`;
    return undefined;
  }

  /**
   * A fast decoder over `weights` (the tensors of a `Decoder` on the wasm backend, used in place),
   * or undefined with no error when the active backend has no fused runtime (cpu, webgpu, browser).
   * The caller keeps the weights alive; `dispose()` frees only what this object allocated.
   */
  static async create(config: DecoderConfig, weights: ReadonlyMap<string, tf.Tensor>, options: FastDecoderOptions = {}): Promise<FastDecoder | undefined> {
    validateDecoderConfig(config);
    const reason = FastDecoder.unsupported(config);
    if (reason) throw new RangeError(`FastDecoder: ${reason}`);
    const ops = await FusedOps.create();
    if (!ops) return undefined;
    return new FastDecoder(config, ops, fastWeights(config, weights, ops.runtime), options);
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

  newCache(initialCapacity = this.options.initialCacheCapacity ?? 256): FastKvCache {
    const { config } = this;
    return new FastKvCache(this.ops.runtime, this.steps.length, config.numKvHeads, config.headDim, config.maxPositionEmbeddings, initialCapacity);
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
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`token id ${id} is outside the vocabulary (0..${V - 1})`);
        const wanted = !lastOnly || i === ids.length - 1;
        rows.push({ cache, id, pos: cache.length + i, ...(wanted ? { out: { output, at: lastOnly ? 0 : i } } : {}) });
      }
    }
    this.ensureScores(Math.max(1, ...entries.map((e) => e.cache.length + e.ids.length)));
    for (let start = 0; start < rows.length; start += this.chunkRows) this.runRows(rows.slice(start, start + this.chunkRows));
    for (const { cache, ids } of entries) cache.advance(ids.length);
    return outputs;
  }

  /** Frees the scratch buffers (not the weights, which belong to the caller). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.scratch.dispose();
    this.scores?.tensor.dispose();
    this.ops.dispose();
  }

  /** Runs up to chunkRows rows through every layer step; writes the wanted rows' logits to their outputs. */
  private runRows(rows: readonly Row[]): void {
    const { config, ops, scratch: S, profile } = this;
    const { hiddenSize: d, intermediateSize: ff, numHeads: heads, numKvHeads: kvHeads, headDim: hd } = config;
    const T = rows.length;
    const [qDim, kvDim] = [heads * hd, kvHeads * hd];
    const qkvDim = qDim + 2 * kvDim;
    const eps = config.rmsNormEps;
    let f32 = ops.runtime.f32;

    let phase = profile.start();
    for (const [t, row] of rows.entries()) f32.copyWithin((S.at('h') >> 2) + t * d, (this.weights.embed >> 2) + row.id * d, (this.weights.embed >> 2) + (row.id + 1) * d);
    this.ropeTables(rows);
    const contexts = rows.map((r) => r.pos + 1);
    phase = profile.lap('embed', phase);

    for (const call of this.steps) {
      const w = this.weights.layers[call.unique]!;
      ops.rmsNorm({ x: S.at('h'), xStride: d * 4, out: S.at('xn'), outStride: d * 4, w: w.inputNormAt, n: d, eps, T });
      phase = profile.lap('norm', phase);
      this.project([
        { w: w.q, x: S.at('xn'), y: S.at('qkv'), rows: qDim, k: d, T, yStride: qkvDim * 4 },
        { w: w.k, x: S.at('xn'), y: S.at('qkv') + qDim * 4, rows: kvDim, k: d, T, yStride: qkvDim * 4 },
        { w: w.v, x: S.at('xn'), y: S.at('qkv') + (qDim + kvDim) * 4, rows: kvDim, k: d, T, yStride: qkvDim * 4 },
      ]);
      phase = profile.lap('qkv', phase);
      this.ropeAndStore(rows, call.step, w);
      phase = profile.lap('rope', phase);
      ops.attention({
        q: S.at('qkv'), qStride: qkvDim * 4, T, rowInfo: S.at('rowInfo'), heads, kvHeads, headDim: hd,
        contexts, scores: this.scores!.offset, scoreStride: this.scores!.positions * 4,
        out: S.at('att'), outStride: qDim * 4, scale: 1 / Math.sqrt(hd),
      });
      phase = profile.lap('attention', phase);
      this.project([{ w: w.o, x: S.at('att'), y: S.at('h'), rows: d, k: qDim, T, accumulate: true }]);
      phase = profile.lap('oProj', phase);
      ops.rmsNorm({ x: S.at('h'), xStride: d * 4, out: S.at('xn'), outStride: d * 4, w: w.postNormAt, n: d, eps, T });
      phase = profile.lap('norm', phase);
      this.project([
        { w: w.gate, x: S.at('xn'), y: S.at('gu'), rows: ff, k: d, T, yStride: 2 * ff * 4 },
        { w: w.up, x: S.at('xn'), y: S.at('gu') + ff * 4, rows: ff, k: d, T, yStride: 2 * ff * 4 },
      ]);
      phase = profile.lap('gateUp', phase);
      ops.siluMul({ gate: S.at('gu'), upOffset: ff * 4, n: ff, T, rowStride: 2 * ff * 4 });
      phase = profile.lap('silu', phase);
      this.project([{ w: w.down, x: S.at('gu'), y: S.at('h'), rows: d, k: ff, T, xStride: 2 * ff * 4, accumulate: true }]);
      phase = profile.lap('down', phase);
    }

    // Final norm of the wanted rows, packed, then the LM head over them only, maxRows at a time.
    const V = config.vocabSize;
    const wanted = rows.flatMap((row, t) => (row.out ? [{ t, out: row.out }] : []));
    for (let g = 0; g < wanted.length; g += this.maxRows) {
      const group = wanted.slice(g, g + this.maxRows);
      f32 = ops.runtime.f32;
      group.forEach(({ t }, n) => rmsNormRow(f32, (S.at('h') >> 2) + t * d, (S.at('xn') >> 2) + n * d, this.weights.finalNorm, eps));
      this.project([{ w: this.weights.head, x: S.at('xn'), y: S.at('logits'), rows: V, k: d, T: group.length }]);
      f32 = ops.runtime.f32;
      group.forEach(({ out }, n) => out.output.set(f32.subarray((S.at('logits') >> 2) + n * V, (S.at('logits') >> 2) + (n + 1) * V), out.at * V));
    }
    profile.lap('head', phase);
    profile.count(T);
  }

  /** One job of base projections. (The place per-row LoRA will join: its A·x and B·(A·x) as extra jobs.) */
  private project(jobs: readonly LinearJob[]): void {
    this.ops.linear(jobs);
  }

  /** Biases, RoPE on q and k, K/V written into each row's cache slot, and each row's attention range. */
  private ropeAndStore(rows: readonly Row[], step: number, w: FastLayerWeights): void {
    const { config, ops, scratch: S } = this;
    const { numHeads: heads, numKvHeads: kvHeads, headDim: hd } = config;
    const [qDim, kvDim] = [heads * hd, kvHeads * hd];
    const qkvDim = qDim + 2 * kvDim;
    const f32 = ops.runtime.f32;
    for (const [t, row] of rows.entries()) {
      const q = (S.at('qkv') >> 2) + t * qkvDim;
      const [k, v] = [q + qDim, q + qDim + kvDim];
      if (w.qBias) addRow(f32, q, w.qBias);
      if (w.kBias) addRow(f32, k, w.kBias);
      if (w.vBias) addRow(f32, v, w.vBias);
      ropeRow(f32, q, heads, hd, this.ropeCos, this.ropeSin, t * (hd / 2));
      ropeRow(f32, k, kvHeads, hd, this.ropeCos, this.ropeSin, t * (hd / 2));
      const { cache } = row;
      const [kBase, vBase, headStride] = [cache.base(step, 0), cache.base(step, 1), cache.headStride];
      for (let g = 0; g < kvHeads; g++) {
        const at = row.pos * hd + g * (headStride >> 2);
        f32.copyWithin((kBase >> 2) + at, k + g * hd, k + (g + 1) * hd);
        f32.copyWithin((vBase >> 2) + at, v + g * hd, v + (g + 1) * hd);
      }
      ops.writeRowInfo(S.at('rowInfo'), t, { kBase, vBase, context: row.pos + 1, headStride });
    }
  }

  /** cos/sin of each row's position, float32 as the tfjs op's tables (angles in float64). */
  private ropeTables(rows: readonly Row[]): void {
    const half = this.config.headDim / 2;
    const invFreq = this.weights.invFreq;
    for (const [t, row] of rows.entries()) {
      for (let i = 0; i < half; i++) {
        const angle = row.pos * invFreq[i]!;
        this.ropeCos[t * half + i] = Math.cos(angle);
        this.ropeSin[t * half + i] = Math.sin(angle);
      }
    }
  }

  /** Score scratch for contexts up to `positions` (rows × heads × positions floats). */
  private ensureScores(positions: number): void {
    if (this.scores && this.scores.positions >= positions) return;
    const size = Math.max(positions, 2 * (this.scores?.positions ?? 0), 64);
    this.scores?.tensor.dispose();
    this.scores = { ...this.ops.runtime.alloc(this.chunkRows * this.config.numHeads * size), positions: size };
  }
}

export type { FastPhase };
