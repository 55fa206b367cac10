import * as tf from '@tensorflow/tfjs-core';
import { expectShape } from '../errors.js';

/**
 * Mean causal attention entropy in nats: for every head h and query row t, the entropy
 * H = −Σ_s p(s)·ln p(s) of p = softmax(q_t·k_sᵀ/√headDim) over the keys s ≤ t it may see, averaged
 * over heads and rows. A saturation proxy: low entropy = sharp (saturated) attention ("Attention
 * Saturation and Gradient Suppression at Inflection Layers", Wang 2025, arXiv 2511.00797).
 * q [T, nHeads, hd] and k [T, nKvHeads, hd] (rotated) of one sequence from position 0; query head h
 * reads kv head ⌊h / (nHeads / nKvHeads)⌋. Returns a scalar.
 */
export function attentionEntropy(q: tf.Tensor3D, k: tf.Tensor3D): tf.Scalar {
  const [t, nHeads, headDim] = q.shape;
  const [tk, nKvHeads, kDim] = k.shape;
  expectShape(
    tk === t && kDim === headDim && nHeads % nKvHeads === 0,
    'attentionEntropy',
    () => `q [${q.shape}] and k [${k.shape}] do not form one causal self-attention`,
  );
  return tf.tidy(() => {
    const group = nHeads / nKvHeads;
    const kvHead = tf.tensor1d(
      Array.from({ length: nHeads }, (_, h) => Math.floor(h / group)),
      'int32',
    );
    const keys = tf.transpose(tf.gather(k, kvHead, 1), [1, 2, 0]); // [nHeads, hd, T]
    const queries = tf.transpose(q, [1, 0, 2]); // [nHeads, T, hd]
    const scores = tf.div(tf.matMul(queries, keys), Math.sqrt(headDim)); // [nHeads, T, T]
    const index = tf.range(0, t, 1, 'int32'); // [T]
    const future = tf.greater(tf.reshape(index, [1, t]), tf.reshape(index, [t, 1])); // [T, T]: key after query
    const masked = tf.where(future, tf.fill([t, t], -1e30), scores); // [nHeads, T, T]
    const logP = tf.logSoftmax(masked, -1); // [nHeads, T, T]
    const plogp = tf.where(future, tf.zerosLike(logP), tf.mul(tf.exp(logP), logP)); // masked keys add 0
    return tf.neg(tf.mean(tf.sum(plogp, -1))) as tf.Scalar;
  });
}
