import { crossEntropy, tf } from '@recur/tensor';

export interface DistillationOptions {
  /**
   * Softens both distributions; the KL term is scaled by T² so its
   * gradients keep their size (Hinton et al. 2015). Default 1.
   */
  readonly temperature?: number;
  /** Weight of the KD term: alpha·KD + (1 − alpha)·CE. Default 0.5. */
  readonly alpha?: number;
}

/**
 * T²·KL(teacher ‖ student) at temperature T, mean over rows: (T²/N)·Σ_t Σ_v p_t(v)·(log p_t(v) − log q_t(v))
 * with p = softmax(teacher/T), q = softmax(student/T). Both [T, V]; the teacher gets no gradient
 * (compute it outside the gradient scope).
 */
export function distillationKl(student: tf.Tensor2D, teacher: tf.Tensor2D, temperature = 1): tf.Scalar {
  return tf.tidy(() => {
    const logq = tf.logSoftmax(tf.div(student, temperature)); // [T, V]
    const logp = tf.logSoftmax(tf.div(teacher, temperature)); // [T, V]
    const kl = tf.sum(tf.mul(tf.exp(logp), tf.sub(logp, logq))); // summed over rows and vocabulary
    return tf.mul(kl, (temperature * temperature) / student.shape[0]) as tf.Scalar;
  });
}

/** alpha·T²·KL(teacher ‖ student) + (1 − alpha)·CE(student, targets). */
export function distillationLoss(
  student: tf.Tensor2D,
  teacher: tf.Tensor2D,
  targets: Int32Array,
  options: DistillationOptions = {},
): tf.Scalar {
  const alpha = options.alpha ?? 0.5;
  return tf.tidy(() => {
    const kd = distillationKl(student, teacher, options.temperature ?? 1);
    if (alpha === 1) return kd;
    return tf.add(tf.mul(kd, alpha), tf.mul(crossEntropy(student, targets), 1 - alpha)) as tf.Scalar;
  });
}
