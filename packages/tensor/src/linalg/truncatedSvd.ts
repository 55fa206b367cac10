import * as tf from '@tensorflow/tfjs-core';
import { expectShape } from '../errors.js';
import { matMul64, transpose } from './columns.js';
import { gramSvd } from './gramSvd.js';
import { jacobiSvd, type SvdResult } from './jacobiSvd.js';
import { multiply, rangeFinder } from './rangeFinder.js';

/** The rank leading singular triplets of a matrix: matrix ≈ u · diag(s) · vᵀ. */
export interface TruncatedSvd {
  u: Float32Array; // [rows, rank], orthonormal columns
  s: Float32Array; // [rank], descending
  v: Float32Array; // [cols, rank], orthonormal columns
  /**
   * Σ_{i≤rank} s_i² / ‖matrix‖_F² (= Σ s_i² over the whole
   * spectrum): the energy the truncation keeps; 1 for a zero matrix.
   */
  captured: number;
}

/**
 * At or below this smaller dimension the SVD is exact (Gram eigen-decomposition, float64, O(n³) once;
 * one-sided Jacobi took 30 s on a 576×1536 matrix here). Larger ones keep the randomised SVD.
 */
export const EXACT_SVD_LIMIT = 2048;

export interface TruncatedSvdOptions {
  /** Extra random directions beyond `rank`; they make the sketch catch the top `rank` reliably. */
  oversample?: number;
  /** Passes of (A·Aᵀ) over the sketch; each sharpens a slowly decaying spectrum. */
  powerIterations?: number;
  /** Matrices whose smaller dimension is at most this get an exact SVD; larger ones the randomised one. */
  exactLimit?: number;
  /** Seed of the Gaussian test matrix: same seed, same result. */
  seed?: number;
}

/**
 * Best rank-`rank` approximation of a row-major [rows, cols] matrix (e.g. a LoRA initialised from
 * W_orig − W_shared, Bae et al. 2024). Randomised SVD (Halko et al. 2011): the big products run as
 * float32 tfjs matMuls on the active backend, the small factorizations in float64 JS.
 * Small matrices (min dimension ≤ exactLimit) get an exact SVD (gramSvd) instead: on residuals whose
 * singular values sit 0.4% apart the randomised sketch misses the exact top-`rank` subspace.
 */
export function truncatedSvd(
  matrix: Float32Array,
  rows: number,
  cols: number,
  rank: number,
  opts: TruncatedSvdOptions = {},
): TruncatedSvd {
  const { oversample = 10, powerIterations = 8, seed = 1, exactLimit = EXACT_SVD_LIMIT } = opts;
  validate(matrix, rows, cols, rank, oversample, powerIterations);
  const width = rank + oversample;
  const exact = width >= Math.min(rows, cols) || Math.min(rows, cols) <= exactLimit;
  const full = exact ? gramSvd(matrix, rows, cols, rank) : sketched(matrix, rows, cols, width, powerIterations, seed);
  return truncate(full, rows, cols, rank, squaredNorm(matrix));
}

/** ‖matrix‖_F² in float64: the sum of all squared singular values. */
function squaredNorm(matrix: Float32Array): number {
  let sum = 0;
  for (const x of matrix) sum += x * x;
  return sum;
}

/** A ≈ Q·B with B = Qᵀ A [width, cols]; SVD of B = U_b S Vᵀ gives A ≈ (Q·U_b) S Vᵀ. */
function sketched(
  matrix: Float32Array,
  rows: number,
  cols: number,
  width: number,
  powerIterations: number,
  seed: number,
): SvdResult {
  const a = tf.tensor2d(matrix, [rows, cols]); // [rows, cols]
  const aT = tf.transpose(a); // [cols, rows]
  try {
    const q = rangeFinder({ a, aT }, width, powerIterations, seed); // [rows, width]
    const bT = multiply(aT, q, width); // [cols, width] = (Qᵀ A)ᵀ
    const small = jacobiSvd(transpose(bT, cols, width), width, cols); // u: [width, width]
    return { u: matMul64(q, small.u, rows, width, width), s: small.s, v: small.v };
  } finally {
    tf.dispose([a, aT]);
  }
}

/** Keeps the first `rank` columns of u and v and entries of s, as float32. */
function truncate(svd: SvdResult, rows: number, cols: number, rank: number, total: number): TruncatedSvd {
  const k = svd.s.length;
  const leading = (x: Float64Array, n: number): Float32Array => {
    const out = new Float32Array(n * rank); // [n, rank]
    for (let i = 0; i < n; i++) out.set(x.subarray(i * k, i * k + rank), i * rank);
    return out;
  };
  let kept = 0;
  for (const x of svd.s.subarray(0, rank)) kept += x * x;
  const captured = total > 0 ? Math.min(1, kept / total) : 1;
  return { u: leading(svd.u, rows), s: Float32Array.from(svd.s.subarray(0, rank)), v: leading(svd.v, cols), captured };
}

function validate(
  matrix: Float32Array,
  rows: number,
  cols: number,
  rank: number,
  oversample: number,
  powerIterations: number,
): void {
  const op = 'truncatedSvd';
  expectShape(
    Number.isInteger(rows) && Number.isInteger(cols) && rows > 0 && cols > 0,
    op,
    () => `rows ${rows} and cols ${cols} must be positive integers`,
  );
  expectShape(
    matrix.length === rows * cols,
    op,
    () => `matrix has ${matrix.length} values, expected rows·cols = ${rows}·${cols} = ${rows * cols}`,
  );
  expectShape(
    Number.isInteger(rank) && rank >= 1 && rank <= Math.min(rows, cols),
    op,
    () =>
      `rank ${rank} must be an integer in 1..min(rows, cols) = 1..${Math.min(rows, cols)} for a [${rows}, ${cols}] matrix`,
  );
  expectShape(
    Number.isInteger(oversample) && oversample >= 0,
    op,
    () => `oversample ${oversample} must be a non-negative integer`,
  );
  expectShape(
    Number.isInteger(powerIterations) && powerIterations >= 0,
    op,
    () => `powerIterations ${powerIterations} must be a non-negative integer`,
  );
}
