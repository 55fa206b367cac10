import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedOps, initBackend, quantizeRowsQ8, tf, type QuantFormat } from '../src/index.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';
import { dequantizePacked, randomPacked, refLinear64, roundTripQ8 } from './helpers/quantRef.js';

/**
 * The quantized linears against plain float64 references. Against the dequantized weights times the
 * int8-rounded activations the kernel is exact integer block sums plus float32 scaling: 1e-5 of the
 * output scale. Against the float32 activations the only extra error is the activations' rounding,
 * at most Σ_j |w_j|·(1/2 + 127·2⁻¹¹)·max|x_b|/127 per output (the scale is stored at f16
 * precision) — checked as that bound.
 */
const TOL = 1e-5;
/**
 * An activation's rounding error in units of its block's max|x|/127: half a quant, plus 127 quants
 * times the f16 scale's relative rounding (2⁻¹¹).
 */
const HALF_ROUNDING = 0.5 + 127 / 2048 + 1e-6;

describe('quantized fused linears on 2 wasm threads', () => {
  const threads = 2;
  let ops: FusedOps;
  const kept: tf.Tensor[] = [];
  let baseline = 0;
  beforeAll(async () => {
    expect(await initBackend({ backend: 'wasm', threads })).toBe('wasm');
    baseline = tf.memory().numTensors;
    const created = await FusedOps.create();
    if (!created) throw new Error('no fused runtime on wasm');
    ops = created;
  });
  afterAll(() => {
    tf.dispose(kept);
    ops.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  const put = (bytes: Uint8Array): number => {
    const { tensor, offset } = ops.runtime.alloc(Math.ceil(bytes.length / 4) + 4);
    kept.push(tensor);
    const at = Math.ceil(offset / 16) * 16;
    new Uint8Array(ops.runtime.memory.buffer).set(bytes, at);
    return at;
  };
  const putF32 = (data: Float32Array): number => put(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  const read = (offset: number, n: number): Float32Array => ops.runtime.f32.slice(offset >> 2, (offset >> 2) + n);

  const cases = [
    { T: 1, k: 576, rows: 1536 },
    { T: 1, k: 1536, rows: 576 },
    { T: 3, k: 64, rows: 100 },
    { T: 8, k: 576, rows: 300 },
    // the tiled integer GEMM (T ≥ 16; q4_0 without relaxed SIMD: dequantized panels, a partial last one)
    { T: 16, k: 64, rows: 40 },
    { T: 64, k: 576, rows: 200 },
    // odd T and rows: tiles narrower than MT×NR at the edges
    { T: 17, k: 96, rows: 33 },
    { T: 131, k: 1536, rows: 61 },
  ];
  for (const format of ['q8_0', 'q4_0'] as QuantFormat[]) {
    for (const c of cases) {
      it(`${format} T=${c.T} k=${c.k} rows=${c.rows}: overwrite, accumulate, strided output`, () => {
        const rand = mulberry32(c.T * 7919 + c.k + c.rows + (format === 'q8_0' ? 0 : 1));
        const m = randomPacked(rand, format, c.rows, c.k);
        const x = randomArray(rand, c.T * c.k);
        const w64 = dequantizePacked(format, m, c.rows, c.k);
        // f32 activations on the panel path, int8 ones on the integer paths
        const panel = c.T >= 16 && format === 'q4_0' && !ops.runtime.pool.fma;
        const expected = refLinear64(panel ? x : roundTripQ8(x, c.T, c.k), w64, c.T, c.k, c.rows);
        const [pw, ps, px] = [put(m.quants), putF32(m.scales), putF32(x)];
        const stride = c.rows + 4; // output rows 4 floats wider than needed: the extra stays untouched
        const y0 = randomArray(rand, c.T * stride);
        const py = putF32(y0);
        const job = { w: pw, quant: { format, scales: ps }, x: px, y: py, rows: c.rows, k: c.k, T: c.T };
        ops.linear([{ ...job, yStride: stride * 4, accumulate: true }]);
        const got = read(py, c.T * stride);
        const pick = (a: ArrayLike<number>): number[] =>
          Array.from({ length: c.T * c.rows }, (_, i) => a[Math.floor(i / c.rows) * stride + (i % c.rows)]!);
        const before = pick(y0);
        expectClose(
          pick(got),
          Array.from(expected, (v, i) => v + before[i]!),
          TOL,
        );
        for (let t = 0; t < c.T; t++)
          for (let i = c.rows; i < stride; i++) expect(got[t * stride + i]).toBe(y0[t * stride + i]);
        ops.linear([job]);
        expectClose(read(py, c.T * c.rows), expected, TOL);
        if (!panel) {
          // against the float32 activations: within the activation-rounding bound
          const exact = refLinear64(x, w64, c.T, c.k, c.rows);
          const y = read(py, c.T * c.rows);
          for (let t = 0; t < c.T; t++)
            for (let r = 0; r < c.rows; r++) {
              let bound = 1e-5;
              for (let b = 0; b < c.k / 32; b++) {
                let amax = 0;
                let wsum = 0;
                for (let j = 0; j < 32; j++) {
                  amax = Math.max(amax, Math.abs(x[t * c.k + 32 * b + j]!));
                  wsum += Math.abs(w64[r * c.k + 32 * b + j]!);
                }
                bound += (wsum * amax * HALF_ROUNDING) / 127;
              }
              expect(Math.abs(y[t * c.rows + r]! - exact[t * c.rows + r]!)).toBeLessThanOrEqual(bound);
            }
        }
      });
    }
  }

  it('q8_0 and q4_0 jobs beside an f32 one in one call, sharing one input', () => {
    const rand = mulberry32(99);
    const [T, k, rows] = [2, 128, 48];
    const x = randomArray(rand, T * k);
    const m8 = randomPacked(rand, 'q8_0', rows, k);
    const m4 = randomPacked(rand, 'q4_0', rows, k);
    const wf = randomArray(rand, rows * k);
    const px = putF32(x);
    const ys = [
      putF32(new Float32Array(T * rows)),
      putF32(new Float32Array(T * rows)),
      putF32(new Float32Array(T * rows)),
    ];
    ops.linear([
      { w: put(m8.quants), quant: { format: 'q8_0', scales: putF32(m8.scales) }, x: px, y: ys[0]!, rows, k, T },
      { w: putF32(wf), x: px, y: ys[1]!, rows, k, T },
      { w: put(m4.quants), quant: { format: 'q4_0', scales: putF32(m4.scales) }, x: px, y: ys[2]!, rows, k, T },
    ]);
    const xq = roundTripQ8(x, T, k);
    expectClose(read(ys[0]!, T * rows), refLinear64(xq, dequantizePacked('q8_0', m8, rows, k), T, k, rows), TOL);
    expectClose(read(ys[1]!, T * rows), refLinear64(x, wf, T, k, rows), TOL);
    expectClose(read(ys[2]!, T * rows), refLinear64(xq, dequantizePacked('q4_0', m4, rows, k), T, k, rows), TOL);
  });
});

describe('quantizeRowsQ8', () => {
  it('rounds each value to its block scale: |x − q·d| ≤ (1/2 + 127·2⁻¹¹)·d, d = max|x|/127 at f16 precision, zeros stay zero', () => {
    const [T, k] = [3, 96];
    const x = randomArray(mulberry32(5), T * k, 3);
    x.fill(0, 32, 64); // an all-zero block: scale 0, quants 0
    const f32 = new Float32Array(T * k + (T * k) / 32);
    f32.set(x);
    const i8 = new Int8Array(T * k);
    quantizeRowsQ8(f32, i8, { at: 0, stride: k, k, T }, { at: 0, scalesAt: T * k });
    for (let i = 0; i < T * k; i++) {
      const d = f32[T * k + Math.floor(i / 32)]!;
      expect(Math.abs(x[i]! - i8[i]! * d)).toBeLessThanOrEqual(d * HALF_ROUNDING);
      expect(Math.abs(i8[i]!)).toBeLessThanOrEqual(127);
    }
    expect(f32[T * k + 1]).toBe(0);
    expect(Array.from(i8.subarray(32, 64)).every((q) => q === 0)).toBe(true);
  });
});
