import { describe, expect, it } from 'vitest';
import { jacobiSvd, qr, ShapeError, tf, truncatedSvd } from '../src/index.js';
import { useBackend } from './helpers/backends.js';
import { mulberry32 } from './helpers/prng.js';
import { readF32Tensor } from './helpers/safetensors.js';

const storiesWeights = new URL('../../../../shared/models/stories260K/hf/model.safetensors', import.meta.url);

/** Standard normals from a seeded uniform (Box–Muller), independent of the generator under test. */
function gaussian(seed: number, size: number): Float64Array {
  const rand = mulberry32(seed);
  return Float64Array.from({ length: size }, () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
}

/** ‖A − U·diag(s)·Vᵀ‖_F in float64; u: [rows, k], v: [cols, k]. */
function residual(a: ArrayLike<number>, rows: number, cols: number, f: { u: ArrayLike<number>; s: ArrayLike<number>; v: ArrayLike<number> }): number {
  const k = f.s.length;
  let sum = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let x = a[i * cols + j] as number;
      for (let l = 0; l < k; l++) x -= (f.u[i * k + l] as number) * (f.s[l] as number) * (f.v[j * k + l] as number);
      sum += x * x;
    }
  }
  return Math.sqrt(sum);
}

const frobenius = (a: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((sum, x) => sum + x * x, 0));

/** max |XᵀX − I| for X [n, k]. */
function orthonormalityError(x: ArrayLike<number>, n: number, k: number): number {
  let worst = 0;
  for (let p = 0; p < k; p++) {
    for (let q = 0; q < k; q++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += (x[i * k + p] as number) * (x[i * k + q] as number);
      worst = Math.max(worst, Math.abs(d - (p === q ? 1 : 0)));
    }
  }
  return worst;
}

/** A = U·diag(sigma)·Vᵀ with random orthonormal U [rows, k], V [cols, k]: a matrix whose spectrum is known. */
function withSpectrum(rows: number, cols: number, sigma: Float64Array, seed: number): Float32Array {
  const k = sigma.length;
  const u = qr(gaussian(seed, rows * k), rows, k);
  const v = qr(gaussian(seed + 1, cols * k), cols, k);
  const out = new Float32Array(rows * cols);
  const scaled = new Float64Array(k);
  for (let i = 0; i < rows; i++) {
    for (let l = 0; l < k; l++) scaled[l] = (u[i * k + l] as number) * (sigma[l] as number);
    for (let j = 0; j < cols; j++) {
      let x = 0;
      for (let l = 0; l < k; l++) x += (scaled[l] as number) * (v[j * k + l] as number);
      out[i * cols + j] = x;
    }
  }
  return out;
}

/** Eckart–Young: the best rank-r Frobenius error is sqrt(Σ_{i>r} σᵢ²). */
const optimalError = (sigma: ArrayLike<number>, rank: number): number => frobenius(Array.from(sigma).slice(rank));

/** Runs truncatedSvd, checks it leaks no tensors, and returns its error over the optimal one. */
function errorRatio(a: Float32Array, rows: number, cols: number, rank: number, sigma: ArrayLike<number>): number {
  const before = tf.memory().numTensors;
  const f = truncatedSvd(a, rows, cols, rank);
  expect(tf.memory().numTensors).toBe(before);
  expect([f.u.length, f.s.length, f.v.length]).toEqual([rows * rank, rank, cols * rank]);
  return residual(a, rows, cols, f) / optimalError(sigma, rank);
}

describe('jacobiSvd', () => {
  it.each([
    [7, 5],
    [5, 7],
    [40, 40],
    [30, 8],
  ])('reconstructs a random %i×%i matrix with orthonormal U, V and descending s', (rows, cols) => {
    const a = gaussian(rows * 100 + cols, rows * cols);
    const f = jacobiSvd(a, rows, cols);
    const k = Math.min(rows, cols);
    expect(residual(a, rows, cols, f) / frobenius(a)).toBeLessThan(1e-10);
    expect(orthonormalityError(f.u, rows, k)).toBeLessThan(1e-10);
    expect(orthonormalityError(f.v, cols, k)).toBeLessThan(1e-10);
    for (let i = 1; i < k; i++) expect(f.s[i]).toBeLessThanOrEqual(f.s[i - 1] as number);
  });

  it('keeps U orthonormal for a rank-deficient matrix', () => {
    const a = new Float64Array(6 * 4);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 4; j++) a[i * 4 + j] = (i + 1) * (j + 1); // rank 1
    const f = jacobiSvd(a, 6, 4);
    expect(residual(a, 6, 4, f)).toBeLessThan(1e-10);
    expect(orthonormalityError(f.u, 6, 4)).toBeLessThan(1e-10);
    expect(f.s[1]).toBeLessThan(1e-12);
  });
});

describe('truncatedSvd on wasm', () => {
  useBackend('wasm');

  it.each([
    [64, 172],
    [172, 64],
  ])('at full rank reconstructs a %i×%i matrix', (rows, cols) => {
    const a = Float32Array.from(gaussian(rows + cols, rows * cols));
    const before = tf.memory().numTensors;
    const f = truncatedSvd(a, rows, cols, Math.min(rows, cols));
    expect(tf.memory().numTensors).toBe(before);
    expect(residual(a, rows, cols, f) / frobenius(a)).toBeLessThan(1e-4);
  });

  const gaussian96 = Float32Array.from(gaussian(96128, 96 * 128));
  const decaying96 = withSpectrum(96, 128, Float64Array.from({ length: 96 }, (_, i) => Math.pow(i + 1, -1.5)), 7);
  const gate = readF32Tensor(storiesWeights, 'model.layers.0.mlp.gate_proj.weight'); // [172, 64]
  const q1 = readF32Tensor(storiesWeights, 'model.layers.1.self_attn.q_proj.weight').data; // [64, 64]
  const q0 = readF32Tensor(storiesWeights, 'model.layers.0.self_attn.q_proj.weight').data; // [64, 64]
  const qResidual = Float32Array.from(q1, (x, i) => x - (q0[i] as number)); // W_orig − W_shared
  const cases = [
    { name: 'random Gaussian 96×128', a: gaussian96, rows: 96, cols: 128 },
    { name: 'decaying spectrum 96×128', a: decaying96, rows: 96, cols: 128 },
    { name: 'stories260K gate_proj 172×64', a: gate.data, rows: 172, cols: 64 },
    { name: 'stories260K q_proj[1] − q_proj[0] 64×64', a: qResidual, rows: 64, cols: 64 },
  ];

  describe.each(cases)('$name', ({ a, rows, cols }) => {
    const sigma = jacobiSvd(a, rows, cols).s;
    it.each([2, 8, 16])('rank %i is within 1% of the Eckart–Young optimum', (rank) => {
      const ratio = errorRatio(a, rows, cols, rank, sigma);
      expect(ratio, `error / optimal = ${ratio}`).toBeLessThan(1.01);
    });
  });

  it('rank 32 of a 1024×1024 decaying-spectrum matrix is within 1% of optimal', () => {
    const sigma = Float64Array.from({ length: 256 }, (_, i) => Math.pow(i + 1, -1));
    const a = withSpectrum(1024, 1024, sigma, 11);
    const ratio = errorRatio(a, 1024, 1024, 32, sigma);
    expect(ratio, `error / optimal = ${ratio}`).toBeLessThan(1.01);
  });

  it('rejects a bad rank or length with a ShapeError', () => {
    const a = new Float32Array(12);
    expect(() => truncatedSvd(a, 3, 4, 0)).toThrow(ShapeError);
    expect(() => truncatedSvd(a, 3, 4, 4)).toThrow(/rank 4 must be an integer in 1\.\.min\(rows, cols\) = 1\.\.3/);
    expect(() => truncatedSvd(a, 3, 4, 1.5)).toThrow(ShapeError);
    expect(() => truncatedSvd(a, 4, 4, 2)).toThrow(/matrix has 12 values/);
  });
});
