import { tf } from '@recur/tensor';

/**
 * Next-token cross-entropy, mean over counted positions: −(1/N)·Σ_t log softmax(logits_t)[target_t].
 * logits [T, V]; a negative target skips its position. The same definition as @recur/train's
 * (the router may not import train at run time); the pick is a one-hot product, not a batched gather.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: Int32Array): tf.Scalar {
  const [t, vocab] = logits.shape;
  if (targets.length !== t) throw new RangeError(`crossEntropy: ${targets.length} targets for ${t} rows of logits`);
  const counted = targets.reduce((n, id) => n + (id >= 0 ? 1 : 0), 0);
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits); // [T, V]
    const pick = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), vocab), 'float32'); // [T, V]; zero row for id < 0
    return tf.div(tf.neg(tf.sum(tf.mul(pick, logp))), Math.max(1, counted)) as tf.Scalar;
  });
}
