import type * as tf from '@tensorflow/tfjs-core';
import { DequantParams, QuantLinearParams, quantRowBytes, type QuantFormat } from './kernels/index.js';
import type { Segment } from './pool.js';
import { quantizeRowsQ8 } from './quantizeActivations.js';
import type { FusedRuntime } from './runtime.js';

/** A packed quantized weight in the heap (quantParams.ts): quants at `LinearJob.w`, f32 block scales at `scales`. */
export interface QuantWeight {
  readonly format: QuantFormat;
  /** Byte offset of the rows · k/32 f32 scales. */
  readonly scales: number;
}

/** A linear whose weight is quantized; the rest as LinearJob (k a multiple of 32). */
export interface QuantJob {
  readonly w: number;
  readonly quant: QuantWeight;
  readonly x: number;
  readonly y: number;
  readonly rows: number;
  readonly k: number;
  readonly T: number;
  readonly xStride?: number;
  readonly yStride?: number;
  readonly accumulate?: boolean;
}

/** From this many input rows on, a panel of weight rows is dequantized and the tiled f32 GEMM runs on it. */
export const PANEL_MIN_ROWS = 16;
/** Floats of the dequantized panel (2 MB: the panel stays in L2 between its dequant and its GEMM). */
const PANEL_FLOATS = 512 * 1024;
const CHUNK_WORK = 64 * 1024;
const MIN_PARALLEL_WORK = 48 * 1024;
/** Four GEMV slots and the dequant slot (at 8 slots), QuantLinearParams.Size ints each. */
const PARAM_INTS = 9 * QuantLinearParams.Size;

/** Runs a linear with an f32 weight (FusedOps.linear): the panel GEMM. */
export type F32Linear = (job: {
  w: number;
  x: number;
  y: number;
  rows: number;
  k: number;
  T: number;
  xStride: number;
  yStride: number;
  accumulate: boolean;
}) => void;

/**
 * Linears over quantized weights. Few rows (decode, a decode batch): the activations are quantized to
 * int8 per 32-block once per call on the calling thread, then linearQ8Rows / linearQ4Rows stream the
 * weight blocks once, rows split over the pool. Many rows (prefill): per panel of weight rows, one
 * parallel dequant into an f32 scratch, then the tiled f32 GEMM — never a row-by-row GEMV.
 */
export class QuantLinear {
  private readonly params: { tensor: tf.Tensor1D; offset: number };
  private act: { tensor: tf.Tensor1D; offset: number; bytes: number } | undefined;
  private panel: { tensor: tf.Tensor1D; offset: number } | undefined;
  private i8: Int8Array<ArrayBufferLike> = new Int8Array(0);

  constructor(
    private readonly runtime: FusedRuntime,
    private readonly f32Linear: F32Linear,
  ) {
    this.params = runtime.alloc(PARAM_INTS);
  }

  run(jobs: readonly QuantJob[], parallel: boolean): void {
    for (const job of jobs)
      if (job.k % 32 !== 0) throw new RangeError(`QuantLinear: k must be a multiple of 32, got ${job.k}`);
    const few = jobs.filter((j) => j.T < PANEL_MIN_ROWS);
    if (few.length > 0) this.gemv(few, parallel);
    for (const job of jobs) if (job.T >= PANEL_MIN_ROWS) this.panels(job, parallel);
  }

  dispose(): void {
    this.params.tensor.dispose();
    this.act?.tensor.dispose();
    this.panel?.tensor.dispose();
  }

  private gemv(jobs: readonly QuantJob[], parallel: boolean): void {
    // Jobs reading the same input (q, k and v; gate and up) share one quantized copy of it.
    const inputs = new Map<string, { at: number; scalesAt: number }>();
    const key = (j: QuantJob): string => `${j.x}:${j.xStride ?? j.k * 4}:${j.k}:${j.T}`;
    for (const j of jobs) inputs.set(key(j), { at: 0, scalesAt: 0 });
    const base = this.actBuffer(this.layoutInputs(jobs, inputs, key));
    const { f32, i32 } = this.runtime;
    const i8 = this.bytes(f32.buffer);
    for (const [k, at] of inputs) {
      const j = jobs.find((job) => key(job) === k)!;
      const x = { at: j.x >>> 2, stride: (j.xStride ?? j.k * 4) >>> 2, k: j.k, T: j.T };
      quantizeRowsQ8(f32, i8, x, { at: base + at.at, scalesAt: (base + at.scalesAt) >>> 2 });
    }
    let work = 0;
    const segments: Segment[] = jobs.map((j, slot) => {
      const p = this.params.offset + slot * QuantLinearParams.Size * 4;
      const b = p >>> 2;
      const input = inputs.get(key(j))!;
      i32[b + QuantLinearParams.W] = j.w;
      i32[b + QuantLinearParams.S] = j.quant.scales;
      i32[b + QuantLinearParams.X] = base + input.at;
      i32[b + QuantLinearParams.XS] = base + input.scalesAt;
      i32[b + QuantLinearParams.Y] = j.y;
      i32[b + QuantLinearParams.K] = j.k;
      i32[b + QuantLinearParams.T] = j.T;
      i32[b + QuantLinearParams.YStride] = j.yStride ?? j.rows * 4;
      i32[b + QuantLinearParams.Accumulate] = j.accumulate ? 1 : 0;
      work += j.rows * j.k * j.T;
      const perThread = Math.ceil(j.rows / (4 * this.runtime.threads));
      const chunk = Math.max(1, Math.min(Math.ceil(CHUNK_WORK / (j.k * j.T)), perThread), Math.ceil(j.rows / 4096));
      return { kernel: j.quant.format === 'q8_0' ? 'linearQ8Rows' : 'linearQ4Rows', params: p, items: j.rows, chunk };
    });
    this.runtime.pool.run(segments, parallel && work >= MIN_PARALLEL_WORK);
  }

  /** Byte offsets (from the buffer's 16-aligned base) of each distinct input's quants and scales; returns the total. */
  private layoutInputs(
    jobs: readonly QuantJob[],
    inputs: Map<string, { at: number; scalesAt: number }>,
    key: (j: QuantJob) => string,
  ): number {
    let bytes = 0;
    for (const k of inputs.keys()) {
      const j = jobs.find((job) => key(job) === k)!;
      const at = bytes;
      const scalesAt = at + j.T * j.k;
      bytes = Math.ceil((scalesAt + (j.T * j.k) / 8) / 16) * 16;
      inputs.set(k, { at, scalesAt });
    }
    return bytes;
  }

  /** An int8 view of the heap, made again only when tfjs has grown it. */
  private bytes(buffer: ArrayBufferLike): Int8Array<ArrayBufferLike> {
    if (this.i8.buffer !== buffer) this.i8 = new Int8Array(buffer);
    return this.i8;
  }

  /** The activation buffer's 16-aligned byte base, grown to hold `bytes`. */
  private actBuffer(bytes: number): number {
    if (!this.act || this.act.bytes < bytes) {
      this.act?.tensor.dispose();
      const block = this.runtime.alloc(Math.ceil(bytes / 4) + 4);
      this.act = { ...block, bytes };
    }
    return Math.ceil(this.act.offset / 16) * 16;
  }

  private panels(job: QuantJob, parallel: boolean): void {
    const { k, rows } = job;
    const panelRows = Math.max(3, Math.floor(PANEL_FLOATS / k / 3) * 3);
    this.panel ??= this.runtime.alloc(PANEL_FLOATS + 3 * k + 16);
    const out = Math.ceil(this.panel.offset / 16) * 16;
    const p = this.params.offset + 8 * QuantLinearParams.Size * 4;
    const rowBytes = quantRowBytes(job.quant.format, k);
    const kernel = job.quant.format === 'q8_0' ? 'dequantQ8Rows' : 'dequantQ4Rows';
    for (let from = 0; from < rows; from += panelRows) {
      const n = Math.min(panelRows, rows - from);
      const i32 = this.runtime.i32;
      const b = p >>> 2;
      i32[b + DequantParams.W] = job.w + from * rowBytes;
      i32[b + DequantParams.S] = job.quant.scales + (from * k) / 8;
      i32[b + DequantParams.K] = k;
      i32[b + DequantParams.Out] = out;
      i32[b + DequantParams.First] = 0;
      const chunk = Math.max(1, Math.ceil(n / (4 * this.runtime.threads)));
      this.runtime.pool.run([{ kernel, params: p, items: n, chunk }], parallel && n * k >= MIN_PARALLEL_WORK);
      this.f32Linear({
        w: out,
        x: job.x,
        y: job.y + from * 4,
        rows: n,
        k,
        T: job.T,
        xStride: job.xStride ?? k * 4,
        yStride: job.yStride ?? rows * 4,
        accumulate: job.accumulate ?? false,
      });
    }
  }
}
