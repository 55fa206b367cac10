import type { tf } from '@recur/tensor';
import type { Mulberry32 } from '@recur/tensor';

/** What a loss may read besides the batch: the step about to be taken and the trainer's seeded RNG. */
export interface StepContext {
  readonly step: number;
  readonly rng: Mulberry32;
}

/**
 * What the trainer minimises. `loss` runs inside the gradient scope; `prepare` runs before it,
 * outside, for tensors that need no gradient (e.g. a teacher's logits), which the trainer frees
 * after the micro-batch.
 */
export interface Objective {
  prepare?(batch: readonly Int32Array[], context: StepContext): tf.Tensor[];
  /** A scalar that is a mean over the batch's target tokens (so micro-batches average correctly). */
  loss(batch: readonly Int32Array[], prepared: readonly tf.Tensor[], context: StepContext): tf.Scalar;
}
