import * as tf from '@tensorflow/tfjs-core';
import { gaussianArray } from './gaussian.js';
import { qr } from './qr.js';

/**
 * A [rows, cols] on the tfjs backend, plus its transpose, so
 * every product is an untransposed 2D matMul (wasm's fast path).
 */
export interface DeviceMatrix {
  a: tf.Tensor2D; // [rows, cols]
  aT: tf.Tensor2D; // [cols, rows]
}

/**
 * Randomised range finder with power iterations (Halko, Martinsson & Tropp 2011, alg. 4.4):
 * Q [rows, width] orthonormal, its span close to A's top `width` left singular vectors.
 * Q is re-orthonormalised after every product so small singular directions are not lost to rounding.
 */
export function rangeFinder(m: DeviceMatrix, width: number, powerIterations: number, seed: number): Float64Array {
  const [rows, cols] = m.a.shape;
  const omega = gaussianArray(cols * width, seed); // [cols, width]
  let q = qr(multiply(m.a, omega, width), rows, width); // [rows, width]
  for (let i = 0; i < powerIterations; i++) {
    const z = qr(multiply(m.aT, q, width), cols, width); // [cols, width]
    q = qr(multiply(m.a, z, width), rows, width); // [rows, width]
  }
  return q;
}

/** left [n, k] (on device) · right [k, width] (host, row-major) → host float64 [n, width]; float32 on the backend. */
export function multiply(left: tf.Tensor2D, right: ArrayLike<number>, width: number): Float64Array {
  const product = tf.tidy(() => {
    const r = tf.tensor2d(Float32Array.from(right), [left.shape[1], width]); // [k, width]
    return tf.matMul(left, r); // [n, width]
  });
  try {
    return Float64Array.from(product.dataSync());
  } finally {
    product.dispose();
  }
}
