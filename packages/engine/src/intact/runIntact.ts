import type { tf } from '@recur/tensor';
import { withPenalty, type Objective } from '@recur/train';
import type { ActivationIntervals } from './intervals.js';
import { intactRegularizer } from './regularizer.js';

/** `--intact-from` of a run: the earlier domain's intervals and the penalty's weight λ. */
export interface IntactTraining {
  readonly intervals: ActivationIntervals;
  readonly weight: number;
}

/**
 * The run's objective plus λ·InTAct penalty on the trainable weights (anchored at `start`, the
 * weights the run began from), and what frees it; the objective itself when there is no InTAct.
 */
export function intactObjective(
  objective: Objective,
  params: ReadonlyMap<string, tf.Variable>,
  start: ReadonlyMap<string, tf.Tensor>,
  intact: IntactTraining | undefined,
): { readonly objective: Objective; readonly dispose: () => void; readonly constrained: number } {
  if (!intact) return { objective, dispose: () => {}, constrained: 0 };
  const regularizer = intactRegularizer(params, start, intact.intervals);
  if (regularizer.keys.length === 0) {
    regularizer.dispose();
    throw new RangeError(
      '--intact-from: no trainable weight has a recorded interval (train the projections: --trainable all or shared+lora)',
    );
  }
  return {
    objective: withPenalty(objective, () => regularizer.penalty(), intact.weight),
    dispose: () => regularizer.dispose(),
    constrained: regularizer.keys.length,
  };
}
