import { tf } from '@recur/tensor';
import { intervalDriftSum } from '@recur/train';
import type { ActivationIntervals } from './intervals.js';

/** The InTAct penalty of a run: call `penalty` inside the gradient scope; `dispose` frees its interval tensors. */
export interface IntactRegularizer {
  penalty(): tf.Scalar;
  /** Weight keys the penalty covers (trainable weights that have an interval). */
  readonly keys: readonly string[];
  dispose(): void;
}

interface Constrained {
  readonly weight: tf.Variable;
  readonly start: tf.Tensor; // [out, in], the weights the run starts from (the caller's; not freed here)
  readonly lower: tf.Tensor1D; // [in]
  readonly upper: tf.Tensor1D; // [in]
}

/**
 * InTAct's interval consolidation ("InTAct: Interval-based Task Activation Consolidation for Continual
 * Learning", Krukowski et al. 2025, arXiv 2511.17439), simplified to its interval-drift term: for every
 * trainable projection weight W with a recorded input box, ΔW = W − W_start (`start`: the weights the run
 * began from, e.g. the loaded model's, so a resumed run keeps the same anchor), and the penalty is the mean
 * over all constrained output units of (|Δw_j·c| + |Δw_j|·r)², the interval-arithmetic bound on how far
 * unit j's pre-activation can move for any input in the box. Zero while the weights stay where they
 * started; it grows only with changes that act inside the earlier domain's box. Not carried over from the
 * paper: its alignment/variance/feature terms, and constraints on LoRA factors and norm weights.
 */
export function intactRegularizer(
  params: ReadonlyMap<string, tf.Variable>,
  start: ReadonlyMap<string, tf.Tensor>,
  recorded: ActivationIntervals,
): IntactRegularizer {
  const constrained: Constrained[] = [];
  const keys: string[] = [];
  for (const [key, { lower, upper }] of recorded.intervals) {
    const weight = params.get(key);
    if (!weight) continue; // frozen weights cannot drift
    if (weight.rank !== 2 || weight.shape[1] !== lower.length)
      throw new RangeError(
        `activation interval of ${key} has ${lower.length} units but the weight is [${weight.shape}]`,
      );
    const from = start.get(key);
    if (!from || from.shape.join() !== weight.shape.join())
      throw new RangeError(`no starting weight of shape [${weight.shape}] for ${key}`);
    keys.push(key);
    constrained.push({
      weight,
      start: from,
      lower: tf.tensor1d(lower),
      upper: tf.tensor1d(upper),
    });
  }
  const units = constrained.reduce((n, c) => n + c.weight.shape[0]!, 0);
  return {
    keys,
    penalty: () =>
      tf.tidy(() => {
        if (units === 0) return tf.scalar(0);
        const sums = constrained.map((c) =>
          intervalDriftSum(tf.sub(c.weight, c.start) as tf.Tensor2D, c.lower, c.upper),
        );
        return tf.div(tf.addN(sums), units) as tf.Scalar;
      }),
    dispose: () => {
      for (const c of constrained) tf.dispose([c.lower, c.upper]);
    },
  };
}
