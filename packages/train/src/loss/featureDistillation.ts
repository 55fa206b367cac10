import { tf } from '@recur/tensor';

/**
 * mean((s − t)²) over every element of s, t [T, d], with gradient for the student s only: the teacher
 * t is a constant to autodiff (its gradient is zeros) even when it was computed inside the gradient scope.
 */
const studentOnlyMse = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const student = args[0] as tf.Tensor2D;
  const teacher = args[1] as tf.Tensor2D;
  const save = args[2] as tf.GradSaveFunc;
  save([student, teacher]); // the forward's intermediates are freed before the backward runs
  const value = tf.mean(tf.square(tf.sub(student, teacher)));
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
    const [s, t] = saved as [tf.Tensor2D, tf.Tensor2D];
    return [tf.mul(dy, tf.mul(tf.sub(s, t), 2 / s.size)), tf.zerosLike(t)];
  };
  return { value, gradFunc };
}) as (student: tf.Tensor2D, teacher: tf.Tensor2D) => tf.Scalar;

export interface FeatureDistillationOptions {
  /** `weights[l]` for the earlier state l (absent: 1); divided by their sum. */
  readonly weights?: readonly number[];
}

/**
 * Feature half of dual self-distillation (DSD: Banerjee et al., "Dual self-distillation of U-shaped networks
 * for 3D medical image segmentation", 2023, arXiv 2306.03271): the deepest stage's representation teaches
 * every shallower one. DSD compares softened features with a KL after small bottlenecks; a recursive LM's
 * loop states share one space already, so here it is a plain MSE between normalised states. states: one [T, d] per exit,
 * shallowest first, the last the teacher; Σ_{l<N−1} ŵ_l·mean((s_l − sg(s_N))²), ŵ normalised to sum 1.
 * Pass states that are already normalised (e.g. after the final RMSNorm) so the loss is scale-free.
 * With a single state the loss is 0.
 */
export function featureDistillationLoss(
  states: readonly tf.Tensor2D[],
  options: FeatureDistillationOptions = {},
): tf.Scalar {
  const teacher = states[states.length - 1];
  if (teacher === undefined) throw new RangeError('featureDistillationLoss: no states');
  const students = states.slice(0, -1);
  if (students.length === 0) return tf.scalar(0);
  const raw = students.map((_, l) => options.weights?.[l] ?? 1);
  const total = raw.reduce((a, b) => a + b, 0);
  if (raw.some((w) => !Number.isFinite(w) || w < 0) || total <= 0)
    throw new RangeError(`featureDistillationLoss: weights must be finite, ≥ 0, with a positive sum, got [${raw}]`);
  for (const s of students) {
    if (s.shape.join('x') !== teacher.shape.join('x'))
      throw new RangeError(`featureDistillationLoss: state [${s.shape}] against teacher [${teacher.shape}]`);
  }
  return tf.tidy(() => {
    const terms = students.flatMap((s, l) =>
      raw[l] === 0 ? [] : [tf.mul(studentOnlyMse(s, teacher), raw[l]! / total)],
    );
    return tf.addN(terms) as tf.Scalar;
  });
}
