import * as tf from '@tensorflow/tfjs-core';

/**
 * Query heads h = kv·group + j all read kv head `kv`, so each kv head's queries are stacked into
 * one matrix: a single matMul per kv head then covers its whole group without repeating K/V.
 * q: [T, nHeads, headDim] → [nKvHeads, group·T, headDim], pre-scaled by 1/sqrt(headDim)
 * (scaling q is cheaper than scaling the [.., S] scores).
 */
export function groupQueries(q: tf.Tensor3D, nKvHeads: number): tf.Tensor3D {
  const [t, nHeads, headDim] = q.shape;
  const group = nHeads / nKvHeads;
  const scaled = tf.mul(q, 1 / Math.sqrt(headDim)); // [T, nHeads, headDim]
  // [nKvHeads, group, T, headDim]
  const grouped = tf.transpose(tf.reshape(scaled, [t, nKvHeads, group, headDim]), [1, 2, 0, 3]);
  return tf.reshape(grouped, [nKvHeads, group * t, headDim]);
}

/** Inverse of groupQueries' layout: [nKvHeads, group·T, headDim] → [T, nHeads·headDim], head-major per row. */
export function ungroupOutput(out: tf.Tensor3D, t: number): tf.Tensor2D {
  const [nKvHeads, rows, headDim] = out.shape;
  const group = rows / t;
  const split = tf.reshape(out, [nKvHeads, group, t, headDim]); // [nKvHeads, group, T, headDim]
  return tf.reshape(tf.transpose(split, [2, 0, 1, 3]), [t, nKvHeads * group * headDim]); // [T, nHeads·headDim]
}
