import type * as tf from '@tensorflow/tfjs-core';
import { KvWrite, LinearParams, NormParams, RopeParams, RowInfo, SiluParams } from './kernels/index.js';
import { runAttentionTiled } from './attentionRuns.js';
import type { Segment } from './pool.js';
import { FusedRuntime } from './runtime.js';
import { QuantLinear, type QuantJob, type QuantWeight } from './quantLinear.js';
import {
  attentionWork,
  echoAsAttention,
  softmaxRows,
  writeAttentionParams,
  type AttentionJob,
  type EchoValuesJob,
} from './attentionOps.js';

export type { AttentionJob, EchoValuesJob };

/** y[t, r] (+)= Σ_j w[r, j]·x[t, j]: one weight [rows, k] against T input rows. Offsets in bytes. */
export interface LinearJob {
  readonly w: number;
  readonly x: number;
  readonly y: number;
  readonly rows: number;
  readonly k: number;
  readonly T: number;
  /** Bytes between input rows; default k·4. */
  readonly xStride?: number;
  /** Bytes between output rows; default rows·4. */
  readonly yStride?: number;
  /** Add to y instead of overwriting it (a residual connection). */
  readonly accumulate?: boolean;
  /** The weight is quantized: `w` is its packed quants (QuantLinear), k a multiple of 32. */
  readonly quant?: QuantWeight;
}

/** Weights per chunk: small enough to balance threads, large enough that claims cost nothing. */
const CHUNK_WORK = 64 * 1024;
/** Below this many multiply-adds one thread finishes before another would help. */
const MIN_PARALLEL_WORK = 48 * 1024;
/** From this many input rows on, linears run the register-tiled kernel (linearTiled). */
export const TILED_MIN_ROWS = 4;
const PARAM_INTS = 16;
const PARAM_SLOTS = 8;

/**
 * The fused kernels as calls: each method is one job on the pool (one sync), parameters written to
 * a small block of the heap this object owns. Everything is synchronous and allocation-free.
 */
export class FusedOps {
  private readonly params: { tensor: tf.Tensor1D; offset: number };
  private disposed = false;
  private quant: QuantLinear | undefined;
  /** Run attention as two jobs around a Math.exp softmax on the calling thread (slower; a cross-check). */
  separateSoftmax = false;
  /**
   * false: every job runs on the calling thread. Each output element is computed by one thread with
   * the same code whatever the split, so results are bitwise identical either way.
   */
  parallel = true;

  constructor(readonly runtime: FusedRuntime) {
    this.params = runtime.alloc(PARAM_INTS * PARAM_SLOTS);
  }

  /** Ops on the active backend's runtime, or undefined when it has none (not wasm in Node). */
  static async create(): Promise<FusedOps | undefined> {
    const runtime = await FusedRuntime.forActiveBackend();
    return runtime && new FusedOps(runtime);
  }

  get threads(): number {
    return this.runtime.threads;
  }

  /** Up to 4 linears (e.g. q, k and v of one layer) in one job. */
  linear(all: readonly LinearJob[]): void {
    const quantized = all.filter((job): job is QuantJob => job.quant !== undefined);
    if (quantized.length > 0) {
      this.quant ??= new QuantLinear(this.runtime, (job) => this.linear([job]));
      this.quant.run(quantized, this.parallel);
    }
    const jobs = quantized.length > 0 ? all.filter((job) => job.quant === undefined) : all;
    if (jobs.length === 0) return;
    const i32 = this.runtime.i32;
    let work = 0;
    const segments: Segment[] = jobs.map((job, slot) => {
      if (job.k % 4 !== 0) throw new RangeError(`FusedOps.linear: k must be a multiple of 4, got ${job.k}`);
      const p = this.slot(slot);
      const b = p >>> 2;
      i32[b + LinearParams.W] = job.w;
      i32[b + LinearParams.X] = job.x;
      i32[b + LinearParams.Y] = job.y;
      i32[b + LinearParams.K] = job.k;
      i32[b + LinearParams.T] = job.T;
      i32[b + LinearParams.XStride] = job.xStride ?? job.k * 4;
      i32[b + LinearParams.YStride] = job.yStride ?? job.rows * 4;
      i32[b + LinearParams.Accumulate] = job.accumulate ? 1 : 0;
      work += job.rows * job.k * job.T;
      // At least 4 chunks per thread so a descheduled thread holds little back; at most 4096 per job.
      const perThread = Math.ceil(job.rows / (4 * this.runtime.threads));
      let chunk = Math.max(1, Math.min(Math.ceil(CHUNK_WORK / (job.k * job.T)), perThread), Math.ceil(job.rows / 4096));
      if (job.T < TILED_MIN_ROWS) return { kernel: 'linearRows', params: p, items: job.rows, chunk };
      const nr = this.runtime.pool.tileRows;
      chunk = Math.ceil(chunk / nr) * nr; // whole tiles of weight rows
      return { kernel: 'linearTiled', params: p, items: job.rows, chunk };
    });
    this.runtime.pool.run(segments, this.parallel && work >= MIN_PARALLEL_WORK);
  }

  /**
   * Causal attention in one job: each (row, head) item computes scores, softmax (a polynomial exp,
   * relative error ≤ 2e-7) and values. With `separateSoftmax` it runs as scores → JS softmax
   * (Math.exp) → values instead: two jobs, the form the kernel tests cross-check against.
   */
  attention(job: AttentionJob): void {
    const { runtime } = this;
    const p = this.slot(0);
    writeAttentionParams(runtime, p, job);
    const items = job.T * job.heads;
    const parallel = this.parallel && attentionWork(job) >= MIN_PARALLEL_WORK;
    if (this.separateSoftmax) {
      runtime.pool.run([{ kernel: 'attnScores', params: p, items, chunk: 1 }], parallel);
      softmaxRows(runtime.f32, job);
      runtime.pool.run([{ kernel: 'attnValues', params: p, items, chunk: 1 }], parallel);
    } else {
      runtime.pool.run([{ kernel: 'attention', params: p, items, chunk: 1 }], parallel);
    }
  }

  /**
   * EchoAtt (arXiv 2409.14595): kept probabilities of an earlier step applied to this step's values,
   * one job of the attnValues kernel (the second half of the separate-softmax attention).
   */
  echoValues(job: EchoValuesJob): void {
    const p = this.slot(0);
    const attention = echoAsAttention(job);
    writeAttentionParams(this.runtime, p, attention);
    const parallel = this.parallel && attentionWork(attention) >= MIN_PARALLEL_WORK;
    this.runtime.pool.run([{ kernel: 'attnValues', params: p, items: job.T * job.heads, chunk: 1 }], parallel);
  }

  /**
   * The same attention as `attention` (within float32 rounding), for prefill: each run of ≥ 8
   * consecutive rows of one sequence on the tiled online-softmax kernel (attentionTiled: K/V read
   * once per 8 rows × a query group, no score row longer than a tile), other rows as `attention`
   * does them. With `job.kept` it also leaves every item's probabilities there (an EchoAtt source).
   * The job's RowInfo entries must be written; scoreStride ≥ TILE_SCORE_FLOATS floats.
   */
  attentionTiled(job: AttentionJob): void {
    runAttentionTiled(
      this.runtime,
      job,
      (work) => this.parallel && work >= MIN_PARALLEL_WORK,
      (k) => this.slot(k),
    );
  }

  /**
   * gate[t, i] ← silu(gate[t, i])·up[t, i] for i < n and T rows `rowStride` bytes apart, up at
   * `upOffset` bytes after gate (a polynomial exp, relative error ≤ 2e-7).
   */
  siluMul(job: {
    readonly gate: number;
    readonly upOffset: number;
    readonly n: number;
    readonly T: number;
    readonly rowStride: number;
  }): void {
    if (job.n % 4 !== 0) throw new RangeError(`FusedOps.siluMul: n must be a multiple of 4, got ${job.n}`);
    const i32 = this.runtime.i32;
    const p = this.slot(0);
    const b = p >>> 2;
    i32[b + SiluParams.Gate] = job.gate;
    i32[b + SiluParams.UpOffset] = job.upOffset;
    i32[b + SiluParams.N] = job.n;
    i32[b + SiluParams.RowStride] = job.rowStride;
    const chunk = Math.max(1, Math.ceil(4096 / job.n));
    this.runtime.pool.run(
      [{ kernel: 'siluMul', params: p, items: job.T, chunk }],
      this.parallel && job.n * job.T >= 4 * 4096,
    );
  }

  /**
   * RMSNorm of T rows: out[t] = x[t] / sqrt(mean(x[t]²) + eps) · w, w a float32 vector of n in the
   * heap (byte offset). Float32 sums (the JS rowOps sum in float64: they agree to ~1e-7 relative).
   */
  rmsNorm(job: {
    readonly x: number;
    readonly xStride: number;
    readonly out: number;
    readonly outStride: number;
    readonly w: number;
    readonly n: number;
    readonly eps: number;
    readonly T: number;
  }): void {
    if (job.n % 4 !== 0) throw new RangeError(`FusedOps.rmsNorm: n must be a multiple of 4, got ${job.n}`);
    const { runtime } = this;
    const i32 = runtime.i32;
    const p = this.slot(0);
    const b = p >>> 2;
    i32[b + NormParams.X] = job.x;
    i32[b + NormParams.XStride] = job.xStride;
    i32[b + NormParams.Out] = job.out;
    i32[b + NormParams.OutStride] = job.outStride;
    i32[b + NormParams.W] = job.w;
    i32[b + NormParams.N] = job.n;
    runtime.f32[b + NormParams.Eps] = job.eps;
    runtime.pool.run(
      [{ kernel: 'rmsNorm', params: p, items: job.T, chunk: Math.max(1, Math.ceil(8192 / job.n)) }],
      this.parallel && job.n * job.T >= MIN_PARALLEL_WORK,
    );
  }

  /**
   * RoPE on the q and k heads of T qkv rows (`qkvStride` bytes apart; row t's cos/sin at `rope` +
   * t·headDim·4: headDim/2 cosines, then the sines), then each row's K/V into its cache as its
   * KvWrite entry at `kvWrite` + 16·t says (writeKv). Float64 rotations rounded once to float32.
   */
  ropeStore(job: {
    readonly qkv: number;
    readonly qkvStride: number;
    readonly T: number;
    readonly heads: number;
    readonly kvHeads: number;
    readonly headDim: number;
    readonly rope: number;
    readonly kvWrite: number;
  }): void {
    if (job.headDim % 4 !== 0)
      throw new RangeError(`FusedOps.ropeStore: headDim must be a multiple of 4, got ${job.headDim}`);
    const i32 = this.runtime.i32;
    const b = this.slot(0) >>> 2;
    i32[b + RopeParams.Qkv] = job.qkv;
    i32[b + RopeParams.QkvStride] = job.qkvStride;
    i32[b + RopeParams.Heads] = job.heads;
    i32[b + RopeParams.KvHeads] = job.kvHeads;
    i32[b + RopeParams.HeadBytes] = job.headDim * 4;
    i32[b + RopeParams.Rope] = job.rope;
    i32[b + RopeParams.KvWrite] = job.kvWrite;
    const pairs = (job.heads + job.kvHeads) * (job.headDim / 2);
    this.runtime.pool.run(
      [{ kernel: 'ropeStore', params: b << 2, items: job.T, chunk: Math.max(1, Math.ceil(4096 / pairs)) }],
      this.parallel && job.T * pairs >= MIN_PARALLEL_WORK / 4,
    );
  }

  /** Writes row t's KvWrite at `kvWrite + 16·t`: K and V of kv head 0 at its entry, or no write. */
  writeKv(kvWrite: number, t: number, write: { k: number; v: number; headStride: number } | undefined): void {
    const i32 = this.runtime.i32;
    const b = (kvWrite >>> 2) + t * KvWrite.Size;
    i32[b + KvWrite.Writes] = write ? 1 : 0;
    i32[b + KvWrite.K] = write?.k ?? 0;
    i32[b + KvWrite.V] = write?.v ?? 0;
    i32[b + KvWrite.HeadStride] = write?.headStride ?? 0;
  }

  /** Writes one row's RowInfo (byte offsets) at `rowInfo + 16·t`. */
  writeRowInfo(
    rowInfo: number,
    t: number,
    info: { kBase: number; vBase: number; context: number; headStride: number },
  ): void {
    const i32 = this.runtime.i32;
    const b = (rowInfo >>> 2) + t * RowInfo.Size;
    i32[b + RowInfo.KBase] = info.kBase;
    i32[b + RowInfo.VBase] = info.vBase;
    i32[b + RowInfo.Context] = info.context;
    i32[b + RowInfo.HeadStride] = info.headStride;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.params.tensor.dispose();
    this.quant?.dispose();
  }

  private slot(i: number): number {
    if (this.disposed) throw new Error('FusedOps used after dispose()');
    return this.params.offset + i * PARAM_INTS * 4;
  }
}
