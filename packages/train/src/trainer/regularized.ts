import { tf } from '@recur/tensor';
import type { Objective } from './objective.js';

/**
 * `objective` plus weight·penalty(), the penalty computed inside the same gradient scope (so it
 * differentiates through the trainable Variables it reads, e.g. an interval-drift regulariser).
 * Each micro-batch adds the full penalty: the accumulated mean over micro-batches is then the mean
 * loss plus weight·penalty once.
 */
export function withPenalty(objective: Objective, penalty: () => tf.Scalar, weight: number): Objective {
  if (!Number.isFinite(weight) || weight < 0) throw new RangeError(`penalty weight must be ≥ 0, got ${weight}`);
  const prepare = objective.prepare?.bind(objective);
  return {
    ...(prepare && { prepare }),
    loss: (batch, prepared, context) =>
      tf.add(objective.loss(batch, prepared, context), tf.mul(penalty(), weight)) as tf.Scalar,
  };
}
