import { routeTokenChoice, type LoopChoice, type TokenChoiceRouting, type TokenRouting } from '@recur/router';
import { tf } from '@recur/tensor';

/**
 * Token-choice MoR routing (Bae et al. 2025, arXiv 2507.10524, §2.2.2) as `tokenChoiceRouting`, with
 * each loop's gates picked as rows of a [T, 1] column: the row-gather gradient @recur/train registers
 * covers it (a 1-D gather has none), so the router trains through the gates.
 */
export function trainableTokenRouting(params: ReadonlyMap<string, tf.Tensor>, options: { step?: number; warmupSteps?: number } = {}): TokenRouting {
  let routed: TokenChoiceRouting | undefined;
  return {
    update: 'gated',
    routed: () => routed,
    choose(r, h, candidates): LoopChoice {
      if (r === 0) routed = routeTokenChoice(params, h, options);
      const { depths, gate } = routed!;
      const selected = candidates.filter((t) => depths[t]! > r);
      const column = tf.reshape(gate, [gate.shape[0], 1]) as tf.Tensor2D; // [T, 1]
      const picked = tf.gather(column, tf.tensor1d(selected, 'int32')) as tf.Tensor2D; // [k, 1]
      return { selected, gate: tf.reshape(picked, [selected.length]) as tf.Tensor1D }; // [k]
    },
  };
}
