import { tf } from '@recur/tensor';
import type { Decoder } from '@recur/graph';
import type { Objective, StepContext } from './objective.js';

/** One sequence's loss: its L+1 ids, the teacher's logits for its L inputs when there is a teacher. */
export type SequenceLoss = (seq: Int32Array, teacherLogits: tf.Tensor2D | undefined, context: StepContext) => tf.Scalar;

/**
 * An objective that scores B sequences of L+1 ids one at a time (tfjs-wasm's batched matMuls are ~10×
 * slower than its 2-D ones) and averages the per-sequence means — the mean over all B·L targets, as
 * every sequence has L. A teacher, if any, runs in `prepare`, outside the gradient scope.
 */
export function sequenceObjective(loss: SequenceLoss, teacher?: Decoder): Objective {
  return {
    prepare: teacher ? (batch) => batch.map((seq) => teacher.forward(seq.subarray(0, seq.length - 1))) : undefined,
    loss: (batch, prepared, context) => {
      const perSequence = batch.map((seq, i) => loss(seq, prepared[i] as tf.Tensor2D | undefined, context));
      return tf.div(tf.addN(perSequence), batch.length) as tf.Scalar;
    },
  };
}
