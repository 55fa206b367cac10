import type * as tf from '@tensorflow/tfjs-core';
import {
  DequantParams,
  QuantLinearParams,
  QuantizeParams,
  QUANT_TILE_ROWS,
  quantRowBytes,
  type KernelName,
  type QuantFormat,
} from './kernels/index.js';
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

/**
 * From this many input rows on, the integer tiled GEMM runs (linearQ8Tiled / linearQ4Tiled), or
 * without relaxed SIMD for q4_0 a dequantized panel of weight rows through the tiled f32 GEMM.
 */
export const PANEL_MIN_ROWS = 16;
/** Floats of the dequantized panel (2 MB: the panel stays in L2 between its dequant and its GEMM). */
const PANEL_FLOATS = 512 * 1024;
const CHUNK_WORK = 64 * 1024;
const MIN_PARALLEL_WORK = 48 * 1024;
/** Up to eight job slots, the dequant slot (at 8) and four quantize slots (9 …), QuantLinearParams.Size ints each. */
const PARAM_INTS = 13 * QuantLinearParams.Size;
const QUANTIZE_SLOT = 9;

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
 * weight blocks once, rows split over the pool. Many rows (prefill): the same quantized activations
 * (q8_0: widened to i16; q4_0: with block sums) through linearQ8Tiled / linearQ4Tiled, whole tiles of
 * weight rows split over the pool. q4_0 without relaxed SIMD: per panel of weight rows, one parallel
 * dequant into an f32 scratch, then the tiled f32 GEMM — never a row-by-row GEMV.
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
    const integer = jobs.filter((j) => this.kernelFor(j) !== 'panels');
    if (integer.length > 0) this.integer(integer, parallel);
    for (const job of jobs) if (this.kernelFor(job) === 'panels') this.panels(job, parallel);
  }

  dispose(): void {
    this.params.tensor.dispose();
    this.act?.tensor.dispose();
    this.panel?.tensor.dispose();
  }

  /**
   * Few rows: the GEMV kernels. Many: the integer tiled GEMM (q4_0 only where the module has relaxed
   * SIMD; else a dequantized panel through the f32 GEMM).
   */
  private kernelFor(j: QuantJob): KernelName | 'panels' {
    const q8 = j.quant.format === 'q8_0';
    if (j.T < PANEL_MIN_ROWS) return q8 ? 'linearQ8Rows' : 'linearQ4Rows';
    if (q8) return 'linearQ8Tiled';
    return this.runtime.pool.fma ? 'linearQ4Tiled' : 'panels';
  }

  private formOf(j: QuantJob): Form {
    const kernel = this.kernelFor(j);
    return kernel === 'linearQ8Tiled' ? 'wide' : kernel === 'linearQ4Tiled' ? 'sums' : 'bytes';
  }

  /** Quantizes each distinct input once (q, k and v share one; so do gate and up), then runs every job in one pool run. */
  private integer(jobs: readonly QuantJob[], parallel: boolean): void {
    const key = (j: QuantJob): string => `${j.x}:${j.xStride ?? j.k * 4}:${j.k}:${j.T}:${this.formOf(j)}`;
    const inputs = new Map<string, InputAt>();
    for (const j of jobs) if (!inputs.has(key(j))) inputs.set(key(j), { at: 0, scalesAt: 0, sumsAt: 0, job: j });
    const base = this.actBuffer(layoutInputs(inputs, (j) => this.formOf(j)));
    const f32 = this.runtime.f32;
    const i8 = this.bytes(f32.buffer);
    const quantize: Segment[] = [];
    for (const input of inputs.values()) {
      const j = input.job;
      if (j.T >= PANEL_MIN_ROWS) {
        quantize.push(this.quantizeSegment(QUANTIZE_SLOT + quantize.length, j, base, input));
        continue;
      }
      const x = { at: j.x >>> 2, stride: (j.xStride ?? j.k * 4) >>> 2, k: j.k, T: j.T };
      quantizeRowsQ8(f32, i8, x, { at: base + input.at, scalesAt: (base + input.scalesAt) >>> 2 });
    }
    if (quantize.length > 0) this.runtime.pool.run(quantize, parallel);
    let work = 0;
    const segments: Segment[] = jobs.map((j, slot) => {
      const p = this.params.offset + slot * QuantLinearParams.Size * 4;
      this.writeParams(p >>> 2, j, base, inputs.get(key(j))!);
      work += j.rows * j.k * j.T;
      const kernel = this.kernelFor(j) as KernelName;
      const perThread = Math.ceil(j.rows / (4 * this.runtime.threads));
      const chunk = Math.max(1, Math.min(Math.ceil(CHUNK_WORK / (j.k * j.T)), perThread), Math.ceil(j.rows / 4096));
      // the tiled kernels take weight rows QUANT_TILE_ROWS at a time: chunks of whole tiles
      const whole = j.T >= PANEL_MIN_ROWS ? Math.ceil(chunk / QUANT_TILE_ROWS) * QUANT_TILE_ROWS : chunk;
      return { kernel, params: p, items: j.rows, chunk: whole };
    });
    this.runtime.pool.run(segments, parallel && work >= MIN_PARALLEL_WORK);
  }

  /** Prefill inputs are quantized by the quantizeRows kernel, rows split over the pool (same numbers as quantizeRowsQ8). */
  private quantizeSegment(slot: number, j: QuantJob, base: number, input: InputAt): Segment {
    const p = this.params.offset + slot * QuantLinearParams.Size * 4;
    const b = p >>> 2;
    const i32 = this.runtime.i32;
    const form = this.formOf(j);
    i32[b + QuantizeParams.X] = j.x;
    i32[b + QuantizeParams.XStride] = j.xStride ?? j.k * 4;
    i32[b + QuantizeParams.K] = j.k;
    i32[b + QuantizeParams.Q] = base + input.at;
    i32[b + QuantizeParams.Wide] = form === 'wide' ? 1 : 0;
    i32[b + QuantizeParams.S] = base + input.scalesAt;
    i32[b + QuantizeParams.Sums] = form === 'sums' ? base + input.sumsAt : 0;
    return {
      kernel: 'quantizeRows',
      params: p,
      items: j.T,
      chunk: Math.max(1, Math.ceil(j.T / (4 * this.runtime.threads))),
    };
  }

  private writeParams(b: number, j: QuantJob, base: number, input: InputAt): void {
    const i32 = this.runtime.i32;
    i32[b + QuantLinearParams.W] = j.w;
    i32[b + QuantLinearParams.S] = j.quant.scales;
    i32[b + QuantLinearParams.X] = base + input.at;
    i32[b + QuantLinearParams.XS] = base + input.scalesAt;
    i32[b + QuantLinearParams.XC] = base + input.sumsAt;
    i32[b + QuantLinearParams.Y] = j.y;
    i32[b + QuantLinearParams.K] = j.k;
    i32[b + QuantLinearParams.T] = j.T;
    i32[b + QuantLinearParams.YStride] = j.yStride ?? j.rows * 4;
    i32[b + QuantLinearParams.Accumulate] = j.accumulate ? 1 : 0;
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

/** How an input is quantized: int8 (GEMV), widened to i16 (linearQ8Tiled), int8 with block sums (linearQ4Tiled). */
type Form = 'bytes' | 'wide' | 'sums';
/** Byte offsets from the activation buffer's base of one distinct input's quants, scales and block sums. */
interface InputAt {
  at: number;
  scalesAt: number;
  sumsAt: number;
  readonly job: QuantJob;
}

/** Lays the distinct inputs out one after another (16-byte aligned); returns the total bytes. */
function layoutInputs(inputs: Map<string, InputAt>, formOf: (j: QuantJob) => Form): number {
  let bytes = 0;
  for (const input of inputs.values()) {
    const { T, k } = input.job;
    const form = formOf(input.job);
    input.at = bytes;
    input.scalesAt = input.at + T * k * (form === 'wide' ? 2 : 1);
    input.sumsAt = input.scalesAt + (T * k) / 8;
    bytes = Math.ceil((input.sumsAt + (form === 'sums' ? (T * k) / 8 : 0)) / 16) * 16;
  }
  return bytes;
}
