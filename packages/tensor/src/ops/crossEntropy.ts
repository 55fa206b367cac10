import * as tf from '@tensorflow/tfjs-core';

/**
 * Next-token cross-entropy, mean over target positions: −(1/N)·Σ_t log softmax(logits_t)[target_t].
 * logits: [T, V]; targets: T ids, a negative id marks a position to skip (N counts the rest).
 * The target log-probabilities are picked with a one-hot product rather than a batched gather
 * (tfjs-wasm's gather with batchDims crashes).
 */
export function crossEntropy(logits: tf.Tensor2D, targets: Int32Array): tf.Scalar {
  const [t, vocab] = logits.shape;
  if (targets.length !== t) throw new RangeError(`crossEntropy: ${targets.length} targets for ${t} rows of logits`);
  const counted = targets.reduce((n, id) => n + (id >= 0 ? 1 : 0), 0);
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits); // [T, V]
    const pick = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), vocab), 'float32'); // [T, V]; all-zero row for id < 0
    return tf.div(tf.neg(tf.sum(tf.mul(pick, logp))), Math.max(1, counted)) as tf.Scalar;
  });
}
