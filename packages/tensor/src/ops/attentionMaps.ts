import * as tf from '@tensorflow/tfjs-core';
import { expectShape } from '../errors.js';

/**
 * Causal attention probabilities, per query head: q [T, nHeads, hd] (rows at positions queryOffset + t)
 * and k [S, nKvHeads, hd] (key s at position s) → p [nHeads, T, S], p = softmax(q·kᵀ/√hd) over the keys
 * s ≤ queryOffset + t, exactly 0 past them. Query head h reads kv head ⌊h / (nHeads / nKvHeads)⌋.
 * What EchoAtt (arXiv 2409.14595) stores at a source step and a reusing step applies to its own values.
 */
export function attentionProbabilities(q: tf.Tensor3D, k: tf.Tensor3D, queryOffset = 0): tf.Tensor3D {
  const [t, nHeads, headDim] = q.shape;
  const [s, nKvHeads, kDim] = k.shape;
  expectShape(
    kDim === headDim && nHeads % nKvHeads === 0 && queryOffset >= 0 && queryOffset + t <= s,
    'attentionProbabilities',
    () => `q [${q.shape}] at offset ${queryOffset} and k [${k.shape}] do not form one causal attention`,
  );
  return tf.tidy(() => {
    const keys = tf.transpose(headsOf(k, nHeads), [1, 2, 0]); // [nHeads, hd, S]
    const queries = tf.transpose(q, [1, 0, 2]); // [nHeads, T, hd]
    const scores = tf.div(tf.matMul(queries, keys), Math.sqrt(headDim)); // [nHeads, T, S]
    const rows = tf.reshape(tf.range(queryOffset, queryOffset + t, 1, 'int32'), [t, 1]); // [T, 1]
    const future = tf.greater(tf.reshape(tf.range(0, s, 1, 'int32'), [1, s]), rows); // [T, S]: key after query
    // An additive −1e30 mask rather than a select, so training through it has gradients (Add, Softmax);
    // exp(−1e30 − max) is exactly 0 in float32, so keys after the query get probability 0.
    const mask = tf.mul(tf.cast(future, 'float32'), -1e30); // [T, S]
    return tf.softmax(tf.add(scores, mask)) as tf.Tensor3D; // [nHeads, T, S]
  });
}

/**
 * Stored probabilities applied to values: p [nHeads, T, S], v [S, nKvHeads, hd] → [T, nHeads·hd], the
 * attention output of a step that reuses another step's maps (EchoAtt) — no scores, no softmax.
 */
export function applyAttentionProbabilities(p: tf.Tensor3D, v: tf.Tensor3D): tf.Tensor2D {
  const [nHeads, t, s] = p.shape;
  const [sv, nKvHeads, headDim] = v.shape;
  expectShape(
    s === sv && nHeads % nKvHeads === 0,
    'applyAttentionProbabilities',
    () => `probabilities [${p.shape}] and values [${v.shape}] do not match`,
  );
  return tf.tidy(() => {
    const values = tf.transpose(headsOf(v, nHeads), [1, 0, 2]); // [nHeads, S, hd]
    const out = tf.matMul(p, values); // [nHeads, T, hd]
    return tf.reshape(tf.transpose(out, [1, 0, 2]), [t, nHeads * headDim]) as tf.Tensor2D; // [T, nHeads·hd]
  });
}

/**
 * Similarity of two steps' causal attention maps, both [nHeads, T, S]: the mean over heads and query rows
 * of 1 − JS(p_row ‖ q_row), the Jensen–Shannon divergence in bits, so 1 = identical rows and 0 = disjoint
 * support. Symmetric and bounded, unlike KL, and defined where a row puts 0 on a key.
 */
export function attentionMapSimilarity(a: tf.Tensor3D, b: tf.Tensor3D): tf.Scalar {
  expectShape(
    a.shape.join('x') === b.shape.join('x'),
    'attentionMapSimilarity',
    () => `maps [${a.shape}] and [${b.shape}] differ in shape`,
  );
  return tf.tidy(() => {
    const m = tf.mul(tf.add(a, b), 0.5); // [nHeads, T, S]
    const half = (p: tf.Tensor3D) => {
      const positive = tf.greater(p, 0);
      const safe = (x: tf.Tensor) => tf.where(positive, x, tf.onesLike(x)); // 0·log 0 = 0
      return tf.sum(tf.mul(p, tf.log(tf.div(safe(p), safe(m)))), -1); // [nHeads, T]
    };
    const js = tf.div(tf.mul(tf.add(half(a), half(b)), 0.5), Math.LN2); // [nHeads, T], bits
    return tf.sub(1, tf.mean(js)) as tf.Scalar;
  });
}

/**
 * k or v [S, nKvHeads, hd] with each kv head repeated for the query heads it serves → [S, nHeads, hd]
 * (head h = kv·group + g reads kv head ⌊h / group⌋). A broadcast multiply rather than a gather along
 * axis 1, so training through it (EchoAtt recovery with `recur train`) has a gradient.
 */
function headsOf(x: tf.Tensor3D, nHeads: number): tf.Tensor3D {
  const [s, nKvHeads, headDim] = x.shape;
  const group = nHeads / nKvHeads;
  if (group === 1) return x;
  const repeated = tf.mul(tf.expandDims(x, 2), tf.ones([1, 1, group, 1])); // [S, nKvHeads, group, hd]
  return tf.reshape(repeated, [s, nHeads, headDim]);
}
