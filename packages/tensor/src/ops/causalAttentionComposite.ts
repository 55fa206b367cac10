import * as tf from '@tensorflow/tfjs-core';
import { groupQueries, ungroupOutput } from './attentionLayout.js';
import type { CausalAttentionOptions } from './causalAttention.js';
import { maskScores } from './causalMask.js';

/** causalAttention from tfjs-core ops (any backend): one batched matMul over kv heads for QKᵀ, one for PV. */
export function causalAttentionComposite(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  opts: CausalAttentionOptions,
): tf.Tensor2D {
  return tf.tidy(() => {
    const qg = groupQueries(q, k.shape[1]); // [nKvHeads, group·T, headDim]
    const kh = tf.transpose(k, [1, 0, 2]); // [nKvHeads, S, headDim]
    const vh = tf.transpose(v, [1, 0, 2]); // [nKvHeads, S, headDim]
    const scores: tf.Tensor3D = tf.matMul(qg, kh, false, true); // [nKvHeads, group·T, S]
    const probs = tf.softmax(maskScores(scores, q.shape[0], opts.queryOffset)); // [nKvHeads, group·T, S]
    return ungroupOutput(tf.matMul(probs, vh), q.shape[0]); // [T, nHeads·headDim]
  });
}
