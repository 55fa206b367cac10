import { tf } from '@recur/tensor';
import type { Objective, StepContext } from './objective.js';

export interface Accumulated {
  /** Mean of the micro-batch losses. */
  readonly loss: number;
  /** Mean of the micro-batch gradients, by parameter name. */
  readonly grads: Map<string, tf.Tensor>;
}

/**
 * Gradients of M micro-batches summed and divided by M: with a mean loss and equal-sized micro-batches
 * this is the gradient of the whole batch, at the memory of one micro-batch.
 */
export function accumulateGradients(
  objective: Objective,
  microBatches: readonly (readonly Int32Array[])[],
  params: ReadonlyMap<string, tf.Variable>,
  context: StepContext,
): Accumulated {
  const nameOf = new Map([...params].map(([name, v]) => [v.name, name]));
  const sums = new Map<string, tf.Tensor>();
  let lossSum = 0;
  for (const batch of microBatches) {
    const prepared = tf.tidy(() => objective.prepare?.(batch, context) ?? []);
    const { value, grads } = tf.variableGrads(() => objective.loss(batch, prepared, context), [...params.values()]);
    tf.dispose(prepared);
    lossSum += value.dataSync()[0]!;
    value.dispose();
    for (const [varName, g] of Object.entries(grads)) addInto(sums, nameOf.get(varName)!, g);
  }
  const grads = new Map<string, tf.Tensor>();
  for (const [name, v] of params) {
    const sum = sums.get(name);
    // unused parameter: zero gradient
    grads.set(name, sum ? tf.tidy(() => tf.div(sum, microBatches.length)) : tf.zerosLike(v));
    sum?.dispose();
  }
  return { loss: lossSum / microBatches.length, grads };
}

function addInto(sums: Map<string, tf.Tensor>, name: string, g: tf.Tensor): void {
  const old = sums.get(name);
  if (!old) {
    sums.set(name, g);
    return;
  }
  sums.set(name, tf.add(old, g));
  old.dispose();
  g.dispose();
}
