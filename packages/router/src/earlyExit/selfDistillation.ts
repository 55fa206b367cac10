import { tf } from '@recur/tensor';
import { stopGradient } from '../stopGradient.js';
import { loopWeights } from './loopWeights.js';

export interface SelfDistillationOptions {
  /**
   * Softens teacher and student; the KL is scaled by T² so gradient
   * sizes stay comparable (Hinton et al. 2015). Default 1.
   */
  readonly temperature?: number;
  /** Route the teacher through stopGradient (default true): exits learn from the deepest loop, not the reverse. */
  readonly stopGradient?: boolean;
  /** `weights[l]` for exit l < L − 1 (absent: 1). */
  readonly weights?: readonly number[];
  /** Divide the exit weights by their sum (default true). */
  readonly normalize?: boolean;
}

/**
 * Self-distillation from the deepest loop into the earlier exits (as in DSD-style early exit; for RRT's
 * early exit see Bae et al. 2024, arXiv 2410.20672): Σ_{l<L−1} w_l·T²·KL(p_L ‖ q_l), with
 * p = softmax(teacher/T), q = softmax(student/T), mean over rows. loopLogits: one [T, V] per loop;
 * the last is the teacher. With a single loop the loss is 0.
 */
export function selfDistillationLoss(
  loopLogits: readonly tf.Tensor2D[],
  options: SelfDistillationOptions = {},
): tf.Scalar {
  const teacherLogits = loopLogits[loopLogits.length - 1];
  if (teacherLogits === undefined) throw new RangeError('selfDistillationLoss: no loops');
  const exits = loopLogits.length - 1;
  if (exits === 0) return tf.scalar(0);
  const temperature = options.temperature ?? 1;
  const w = loopWeights(exits, options.weights, options.normalize ?? true);
  return tf.tidy(() => {
    const teacher = options.stopGradient === false ? teacherLogits : stopGradient(teacherLogits);
    const logp = tf.logSoftmax(tf.div(teacher, temperature)); // [T, V]
    const p = tf.exp(logp); // [T, V]
    const rows = teacher.shape[0];
    const terms = loopLogits.slice(0, exits).flatMap((student, l) => {
      const wl = w[l] ?? 0;
      if (wl === 0) return [];
      const logq = tf.logSoftmax(tf.div(student, temperature)); // [T, V]
      const kl = tf.sum(tf.mul(p, tf.sub(logp, logq))); // Σ over rows and vocabulary
      return [tf.mul(kl, (wl * temperature * temperature) / rows)];
    });
    return (terms.length === 0 ? tf.scalar(0) : tf.addN(terms)) as tf.Scalar;
  });
}
