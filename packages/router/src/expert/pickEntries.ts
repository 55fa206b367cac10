import { tf } from '@recur/tensor';

/**
 * v[indices] for a vector v [A] → [k], as a row gather of v viewed as [A, 1]: the gather gradient
 * @recur/train registers covers row gathers of matrices only.
 */
export function pickEntries(v: tf.Tensor1D, indices: Int32Array): tf.Tensor1D {
  return tf.tidy(() => {
    const rows = tf.gather(tf.reshape(v, [v.shape[0], 1]), tf.tensor1d(indices, 'int32')); // [k, 1]
    return tf.reshape(rows, [indices.length]) as tf.Tensor1D; // [k]
  });
}
