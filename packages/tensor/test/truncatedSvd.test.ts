import { describe, expect, it } from 'vitest';
import {
  EXACT_SVD_LIMIT,
  gramSvd,
  jacobiSvd,
  qr,
  ShapeError,
  symmetricEigen,
  tf,
  truncatedSvd,
  type TruncatedSvdOptions,
} from '../src/index.js';
import { useBackend } from './helpers/backends.js';
import { mulberry32 } from './helpers/prng.js';
import { readF32Tensor } from './helpers/safetensors.js';

const storiesWeights = new URL('../../../../shared/models/stories260K/hf/model.safetensors', import.meta.url);

/** Standard normals from a seeded uniform (Box–Muller), independent of the generator under test. */
function gaussian(seed: number, size: number): Float64Array {
  const rand = mulberry32(seed);
  return Float64Array.from(
    { length: size },
    () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()),
  );
}

/** ‖A − U·diag(s)·Vᵀ‖_F in float64; u: [rows, k], v: [cols, k]. */
function residual(
  a: ArrayLike<number>,
  rows: number,
  cols: number,
  f: { u: ArrayLike<number>; s: ArrayLike<number>; v: ArrayLike<number> },
): number {
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
function errorRatio(
  a: Float32Array,
  rows: number,
  cols: number,
  rank: number,
  sigma: ArrayLike<number>,
  opts: TruncatedSvdOptions = {},
): number {
  const before = tf.memory().numTensors;
  const f = truncatedSvd(a, rows, cols, rank, opts);
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
  const decaying96 = withSpectrum(
    96,
    128,
    Float64Array.from({ length: 96 }, (_, i) => (i + 1) ** -1.5),
    7,
  );
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
    it.each([2, 8, 16])('rank %i is within 1% of the Eckart–Young optimum (exact and randomised)', (rank) => {
      for (const opts of [{}, { exactLimit: 0 }]) {
        const ratio = errorRatio(a, rows, cols, rank, sigma, opts);
        expect(ratio, `error / optimal = ${ratio}`).toBeLessThan(1.01);
      }
    });
  });

  it('rank 32 of a 1024×1024 decaying-spectrum matrix is within 1% of optimal (randomised path)', () => {
    const sigma = Float64Array.from({ length: 256 }, (_, i) => (i + 1) ** -1);
    const a = withSpectrum(1024, 1024, sigma, 11);
    const ratio = errorRatio(a, 1024, 1024, 32, sigma, { exactLimit: 0 }); // the exact path is tested below
    expect(ratio, `error / optimal = ${ratio}`).toBeLessThan(1.01);
  });

  it('below the exact limit equals a float64 reference: singular values, reconstruction and captured energy', () => {
    expect(EXACT_SVD_LIMIT).toBe(2048);
    const sigma = Float64Array.from({ length: 40 }, (_, i) => 3 * 0.9 ** i);
    const a = withSpectrum(60, 50, sigma, 21);
    const f = truncatedSvd(a, 60, 50, 6);
    f.s.forEach((x, i) => expect(Math.abs(x - (sigma[i] as number)) / (sigma[i] as number)).toBeLessThan(1e-5));
    expect(residual(a, 60, 50, f) / optimalError(sigma, 6)).toBeLessThan(1 + 1e-4);
    const energy = (n: number) =>
      Array.from(sigma)
        .slice(0, n)
        .reduce((sum, x) => sum + x * x, 0);
    expect(Math.abs(f.captured - energy(6) / energy(40))).toBeLessThan(1e-6);
    expect(orthonormalityError(f.u, 60, 6)).toBeLessThan(1e-5);
    expect(truncatedSvd(new Float32Array(12), 3, 4, 2).captured).toBe(1); // nothing to lose
  });

  it('singular values 0.4% apart: the exact SVD finds the top-r subspace, the randomised sketch does not', () => {
    const sigma = Float64Array.from({ length: 64 }, (_, i) => 0.996 ** i); // like stories260K residuals
    const a = withSpectrum(96, 128, sigma, 5);
    const exact = errorRatio(a, 96, 128, 8, sigma);
    const sketched = errorRatio(a, 96, 128, 8, sigma, { exactLimit: 0, powerIterations: 4 }); // the old path
    expect(exact, `exact error / optimal = ${exact}`).toBeLessThan(1 + 1e-5);
    expect(sketched, `randomised error / optimal = ${sketched}`).toBeGreaterThan(1 + 1e-3);
  });

  it('rejects a bad rank or length with a ShapeError', () => {
    const a = new Float32Array(12);
    expect(() => truncatedSvd(a, 3, 4, 0)).toThrow(ShapeError);
    expect(() => truncatedSvd(a, 3, 4, 4)).toThrow(/rank 4 must be an integer in 1\.\.min\(rows, cols\) = 1\.\.3/);
    expect(() => truncatedSvd(a, 3, 4, 1.5)).toThrow(ShapeError);
    expect(() => truncatedSvd(a, 4, 4, 2)).toThrow(/matrix has 12 values/);
  });
});

describe('gramSvd and symmetricEigen (the exact path)', () => {
  it.each([
    [7, 5],
    [5, 7],
    [40, 40],
    [30, 8],
    [9, 60],
  ])('match the float64 Jacobi reference on a random %i×%i matrix', (rows, cols) => {
    const a = gaussian(rows * 31 + cols, rows * cols);
    const k = Math.min(rows, cols);
    const reference = jacobiSvd(a, rows, cols);
    const f = gramSvd(a, rows, cols, k);
    f.s.forEach((x, i) =>
      expect(Math.abs(x - (reference.s[i] as number))).toBeLessThan(1e-10 * (reference.s[0] as number)),
    );
    expect(residual(a, rows, cols, f) / frobenius(a)).toBeLessThan(1e-10);
    expect(orthonormalityError(f.u, rows, k)).toBeLessThan(1e-9);
    expect(orthonormalityError(f.v, cols, k)).toBeLessThan(1e-9);
  });

  it('handles a rank-deficient and a zero matrix', () => {
    const a = new Float64Array(6 * 4);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 4; j++) a[i * 4 + j] = (i + 1) * (j + 1); // rank 1
    const f = gramSvd(a, 6, 4, 4);
    expect(residual(a, 6, 4, f)).toBeLessThan(1e-10);
    expect(orthonormalityError(f.u, 6, 4)).toBeLessThan(1e-10);
    const zero = gramSvd(new Float64Array(12), 3, 4, 3);
    expect(Array.from(zero.s)).toEqual([0, 0, 0]);
    expect(orthonormalityError(zero.u, 3, 3)).toBeLessThan(1e-12);
  });

  it('symmetricEigen diagonalises a symmetric matrix: G·v = λ·v, values descending', () => {
    const n = 25;
    const x = gaussian(77, n * n);
    const g = Float64Array.from(
      { length: n * n },
      (_, i) => (x[i] as number) + (x[(i % n) * n + Math.floor(i / n)] as number),
    );
    const { values, vectors } = symmetricEigen(g, n);
    vectors.forEach((vec, i) => {
      for (let r = 0; r < n; r++) {
        let gv = 0;
        for (let c = 0; c < n; c++) gv += (g[r * n + c] as number) * (vec[c] as number);
        expect(Math.abs(gv - (values[i] as number) * (vec[r] as number))).toBeLessThan(1e-10);
      }
      if (i > 0) expect(values[i]).toBeLessThanOrEqual(values[i - 1] as number);
    });
  });
});
