import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, jacobiSvd, tf, truncatedSvd } from '../src/index.js';
import { mulberry32 } from './helpers/prng.js';
import { readF32Tensor } from './helpers/safetensors.js';

const storiesWeights = new URL('../../../../shared/models/stories260K/hf/model.safetensors', import.meta.url);

function gaussianMatrix(rows: number, cols: number, seed: number, decay = 0): Float32Array {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const m = Float32Array.from({ length: rows * cols }, normal);
  if (decay === 0) return m;
  // scale column j by exp(−decay·j) in a random orthogonal-ish basis: a decaying spectrum
  return m.map((v, i) => v * Math.exp(-decay * (i % cols)));
}

/** ‖A − U·diag(s)·Vᵀ‖_F / ‖A‖_F. */
function relativeError(a: ArrayLike<number>, rows: number, cols: number, f: { u: ArrayLike<number>; s: ArrayLike<number>; v: ArrayLike<number> }): number {
  const r = f.s.length;
  let err = 0;
  let norm = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let x = 0;
      for (let k = 0; k < r; k++) x += (f.u[i * r + k] as number) * (f.s[k] as number) * (f.v[j * r + k] as number);
      const want = a[i * cols + j] as number;
      err += (want - x) ** 2;
      norm += want ** 2;
    }
  }
  return Math.sqrt(err / norm);
}

/** Eckart–Young: the best rank-r relative error from the exact singular values. */
function optimalError(s: Float64Array, rank: number): number {
  const total = s.reduce((a, v) => a + v * v, 0);
  const tail = s.subarray(rank).reduce((a, v) => a + v * v, 0);
  return Math.sqrt(tail / total);
}

describe('jacobiSvd', () => {
  it.each([[7, 5], [5, 7], [40, 40]])('reconstructs a %i×%i matrix with orthonormal factors', (rows, cols) => {
    const a = gaussianMatrix(rows, cols, rows * 100 + cols);
    const svd = jacobiSvd(a, rows, cols);
    expect(relativeError(a, rows, cols, svd)).toBeLessThan(1e-10);
    const k = Math.min(rows, cols);
    for (let p = 0; p < k; p++) {
      for (let q = 0; q < k; q++) {
        let uu = 0;
        let vv = 0;
        for (let i = 0; i < rows; i++) uu += svd.u[i * k + p]! * svd.u[i * k + q]!;
        for (let i = 0; i < cols; i++) vv += svd.v[i * k + p]! * svd.v[i * k + q]!;
        expect(Math.abs(uu - (p === q ? 1 : 0))).toBeLessThan(1e-10);
        expect(Math.abs(vv - (p === q ? 1 : 0))).toBeLessThan(1e-10);
      }
    }
    for (let i = 1; i < k; i++) expect(svd.s[i]!).toBeLessThanOrEqual(svd.s[i - 1]!);
  });

  it('handles a zero matrix', () => {
    const svd = jacobiSvd(new Float32Array(12), 4, 3);
    expect(Array.from(svd.s)).toEqual([0, 0, 0]);
  });
});

describe('truncatedSvd', () => {
  beforeAll(() => initBackend());

  it.each([[64, 172], [172, 64]])('reconstructs a %i×%i matrix at full rank', (rows, cols) => {
    const a = gaussianMatrix(rows, cols, 3);
    expect(relativeError(a, rows, cols, truncatedSvd(a, rows, cols, Math.min(rows, cols)))).toBeLessThan(1e-4);
  });

  const cases: [string, () => { a: Float32Array; rows: number; cols: number }][] = [
    ['a Gaussian 96×128 matrix', () => ({ a: gaussianMatrix(96, 128, 5), rows: 96, cols: 128 })],
    ['a decaying-spectrum 150×120 matrix', () => ({ a: gaussianMatrix(150, 120, 6, 0.05), rows: 150, cols: 120 })],
    ['stories260K layer 0 gate_proj [172, 64]', () => {
      const t = readF32Tensor(storiesWeights, 'model.layers.0.mlp.gate_proj.weight');
      return { a: t.data, rows: 172, cols: 64 };
    }],
    ['stories260K q_proj residual (layer 1 − layer 0) [64, 64]', () => {
      const a = readF32Tensor(storiesWeights, 'model.layers.1.self_attn.q_proj.weight').data;
      const b = readF32Tensor(storiesWeights, 'model.layers.0.self_attn.q_proj.weight').data;
      return { a: a.map((v, i) => v - b[i]!), rows: 64, cols: 64 };
    }],
  ];

  it.each(cases)('rank-r error of %s is within 1% of Eckart–Young', (_name, make) => {
    const { a, rows, cols } = make();
    const exact = jacobiSvd(a, rows, cols).s;
    const before = tf.memory().numTensors;
    for (const rank of [2, 8, 16]) {
      const got = relativeError(a, rows, cols, truncatedSvd(a, rows, cols, rank, { seed: rank }));
      expect(got).toBeLessThanOrEqual(optimalError(exact, rank) * 1.01 + 1e-7);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is within 1% of optimal on a 1024×1024 decaying-spectrum matrix at rank 32', () => {
    const n = 1024;
    const a = gaussianMatrix(n, n, 9, 0.02);
    // exact singular values are costly here: compare with a much larger, sharper sketch (a slightly lenient optimum)
    const reference = truncatedSvd(a, n, n, 64, { oversample: 32, powerIterations: 8 });
    const got = truncatedSvd(a, n, n, 32);
    const total = a.reduce((s, v) => s + v * v, 0);
    const kept = reference.s.subarray(0, 32).reduce((s, v) => s + v * v, 0);
    const optimal = Math.sqrt(Math.max(0, total - kept) / total);
    const gotKept = got.s.reduce((s, v) => s + v * v, 0);
    expect(Math.sqrt(Math.max(0, total - gotKept) / total)).toBeLessThanOrEqual(optimal * 1.01);
  });

  it('refuses a rank outside 1..min(rows, cols)', () => {
    expect(() => truncatedSvd(new Float32Array(12), 3, 4, 4)).toThrow(/rank/);
    expect(() => truncatedSvd(new Float32Array(11), 3, 4, 2)).toThrow(/values/);
  });
});
