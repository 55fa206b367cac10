import * as tf from '@tensorflow/tfjs-core';

// Finite rather than -Infinity: exp() of it is exactly 0 after max subtraction, and a row can never
// turn into NaN (−∞ − −∞) on a backend with loose infinity handling.
export const MASKED_SCORE = -1e9;

/**
 * Additive causal mask for T queries at absolute positions queryOffset..queryOffset+T-1 over keys
 * 0..S-1: 0 where key s <= query position, MASKED_SCORE elsewhere. Row-major [T, S].
 */
export function causalMaskData(queries: number, keys: number, queryOffset: number): Float32Array {
  const mask = new Float32Array(queries * keys); // [T, S]
  for (let t = 0; t < queries; t++) {
    const firstHidden = Math.max(0, queryOffset + t + 1);
    if (firstHidden < keys) mask.fill(MASKED_SCORE, t * keys + firstHidden, (t + 1) * keys);
  }
  return mask;
}

/**
 * Adds the causal mask to scores laid out [..., group, T, S] (passed flattened as [..., group·T, S]).
 * Returns `scores` itself when every query sees every key (e.g. one-token decode): nothing to hide.
 */
export function maskScores<R extends tf.Rank>(scores: tf.Tensor<R>, t: number, queryOffset: number): tf.Tensor<R> {
  const s = scores.shape[scores.rank - 1] ?? 0;
  if (queryOffset >= s - 1) return scores;
  const mask = tf.tensor2d(causalMaskData(t, s, queryOffset), [t, s]); // [T, S]
  const rows = scores.shape.slice(0, -1).reduce((a, b) => a * b, 1) / t;
  const masked = tf.add(tf.reshape(scores, [rows, t, s]), mask); // [.../T, T, S], mask broadcast over the rest
  return tf.reshape(masked, scores.shape);
}
