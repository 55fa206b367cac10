import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import { jacobiSvd, type SvdResult } from './jacobi.js';
import { orthonormalColumns } from './orthonormalise.js';

export interface TruncatedSvdOptions {
  /** Extra sketch columns beyond the rank (Halko et al. 2011 suggest 5–10). */
  readonly oversample?: number;
  /** Power iterations: sharpen the sketch when the spectrum decays slowly. */
  readonly powerIterations?: number;
  readonly seed?: number;
}

/** Rank-r factors, float32 row-major: A ≈ U·diag(s)·Vᵀ. */
export interface TruncatedSvd {
  readonly u: Float32Array; // [rows, rank]
  readonly s: Float32Array; // [rank]
  readonly v: Float32Array; // [cols, rank]
}

/**
 * Truncated SVD for matrices up to a few thousand on a side: a randomised range finder with power
 * iterations (Halko, Martinsson & Tropp 2011) — big products in tfjs, re-orthonormalised in float64 —
 * then an exact Jacobi SVD of the small projected matrix. When rank + oversample reaches the small
 * side, the whole matrix is factored exactly.
 */
export function truncatedSvd(matrix: Float32Array, rows: number, cols: number, rank: number, options: TruncatedSvdOptions = {}): TruncatedSvd {
  if (matrix.length !== rows * cols) throw new ShapeError('truncatedSvd', `matrix has ${matrix.length} values, expected ${rows}×${cols}`);
  const small = Math.min(rows, cols);
  if (!Number.isInteger(rank) || rank < 1 || rank > small) throw new ShapeError('truncatedSvd', `rank must be an integer in 1..${small}, got ${rank}`);
  const sketch = rank + (options.oversample ?? 10);
  const full = sketch >= small ? jacobiSvd(matrix, rows, cols) : randomisedSvd(matrix, rows, cols, sketch, options);
  return truncate(full, rows, cols, Math.min(small, full.s.length), rank);
}

function randomisedSvd(matrix: Float32Array, rows: number, cols: number, sketch: number, options: TruncatedSvdOptions): SvdResult {
  let result: SvdResult | undefined;
  tf.tidy(() => {
    const a = tf.tensor2d(matrix, [rows, cols]); // [rows, cols]
    const omega = tf.randomNormal([cols, sketch], 0, 1, 'float32', options.seed ?? 0); // [cols, l]
    let q = orthonormalColumns(tf.matMul(a, omega).dataSync(), rows, sketch); // [rows, l]
    for (let i = 0; i < (options.powerIterations ?? 4); i++) {
      const z = orthonormalColumns(tf.matMul(a, asTensor(q, rows, sketch), true, false).dataSync(), cols, sketch); // [cols, l]
      q = orthonormalColumns(tf.matMul(a, asTensor(z, cols, sketch)).dataSync(), rows, sketch); // [rows, l]
    }
    const b = tf.matMul(asTensor(q, rows, sketch), a, true, false).dataSync(); // [l, cols]
    const small = jacobiSvd(b, sketch, cols); // u [l, l], v [cols, l]
    const u = tf.matMul(asTensor(q, rows, sketch), asTensor(small.u, sketch, sketch)).dataSync(); // [rows, l]
    result = { u: Float64Array.from(u), s: small.s, v: small.v };
  });
  return result!;
}

function asTensor(values: Float64Array, rows: number, cols: number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(values), [rows, cols]);
}

/** Keeps the first `rank` of k columns. */
function truncate(svd: SvdResult, rows: number, cols: number, k: number, rank: number): TruncatedSvd {
  const u = new Float32Array(rows * rank);
  const v = new Float32Array(cols * rank);
  for (let i = 0; i < rows; i++) for (let j = 0; j < rank; j++) u[i * rank + j] = svd.u[i * k + j]!;
  for (let i = 0; i < cols; i++) for (let j = 0; j < rank; j++) v[i * rank + j] = svd.v[i * k + j]!;
  return { u, s: Float32Array.from(svd.s.subarray(0, rank)), v };
}
