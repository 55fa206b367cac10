import { describe, expect, it } from 'vitest';
import { jacobiSvd, ShapeError, sharedPcaCka } from '../src/index.js';
import { mulberry32, randomArray } from './helpers/prng.js';

/**
 * The definition computed another way, float64: the shared basis from an SVD of the centred union
 * (not an eigen-decomposition of its covariance), and CKA from the token-by-token Gram matrices
 * ‖X·Yᵀ‖²_F / (‖X·Xᵀ‖_F·‖Y·Yᵀ‖_F) formed explicitly.
 */
function directCka(x: Float32Array, y: Float32Array, dim: number, k: number): number {
  const rows = (a: Float32Array) =>
    Array.from({ length: a.length / dim }, (_, r) => Array.from(a.subarray(r * dim, (r + 1) * dim)));
  const mean = (set: number[][]) => set[0]!.map((_, j) => set.reduce((s, r) => s + r[j]!, 0) / set.length);
  const centre = (set: number[][], mu: number[]) => set.map((r) => r.map((v, j) => v - mu[j]!));
  const union = [...rows(x), ...rows(y)];
  const centred = centre(union, mean(union));
  const { v } = jacobiSvd(Float64Array.from(centred.flat()), centred.length, dim); // v: [d, min] row-major
  const width = Math.min(centred.length, dim);
  const basis = Array.from({ length: k }, (_, c) => Array.from({ length: dim }, (_, j) => v[j * width + c]!));
  const project = (set: number[][]) =>
    centre(set, mean(set)).map((r) => basis.map((p) => r.reduce((s, value, j) => s + value * p[j]!, 0)));
  const px = project(rows(x));
  const py = project(rows(y));
  const gramNorm2 = (a: number[][], b: number[][]) => {
    let s = 0;
    for (const ra of a) for (const rb of b) s += ra.reduce((acc, value, c) => acc + value * rb[c]!, 0) ** 2;
    return s;
  };
  return gramNorm2(px, py) / Math.sqrt(gramNorm2(px, px) * gramNorm2(py, py));
}

describe('sharedPcaCka', () => {
  const dim = 6;
  const rand = mulberry32(7);
  const x = randomArray(rand, 20 * dim);
  // the target: a different mix of the same directions, so CKA sits strictly between 0 and 1
  const y = Float32Array.from(randomArray(rand, 15 * dim), (v, i) => v * (1 + (i % dim)) * 0.5);

  for (const k of [2, 4, 6]) {
    it(`matches a direct float64 computation with k = ${k}`, () => {
      const got = sharedPcaCka(x, y, { dim, components: k });
      const expected = directCka(x, y, dim, k);
      expect(got.components).toBe(k);
      expect(Math.abs(got.cka - expected)).toBeLessThan(1e-10);
      expect(got.deltaCka).toBeCloseTo(1 - expected, 10);
      expect(got.cka).toBeGreaterThan(0);
      expect(got.cka).toBeLessThan(1);
    });
  }

  it('is 0 for one set against itself, shifted and rotated nowhere', () => {
    const shifted = Float32Array.from(x, (v) => v + 3); // the mean is removed per domain
    expect(sharedPcaCka(x, shifted, { dim, components: 4 }).deltaCka).toBeLessThan(1e-9);
  });

  it('clamps k to the width and refuses too few rows', () => {
    expect(sharedPcaCka(x, y, { dim, components: 99 }).components).toBe(dim);
    expect(() => sharedPcaCka(x.subarray(0, dim), y, { dim, components: 2 })).toThrow(ShapeError);
    expect(() => sharedPcaCka(new Float32Array(4 * dim), y, { dim, components: 2 })).toThrow(RangeError);
  });
});
