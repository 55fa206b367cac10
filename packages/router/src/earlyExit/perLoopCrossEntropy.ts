import { crossEntropy, tf } from '@recur/tensor';
import { loopWeights } from './loopWeights.js';

export interface PerLoopLossOptions {
  /** `weights[l]` for loop l; absent entries are 1. */
  readonly weights?: readonly number[];
  /** Divide the weights by their sum (default true): see loopWeights. */
  readonly normalize?: boolean;
}

/**
 * Early-exit training loss (Relaxed Recursive Transformers, Bae et al. 2024, arXiv 2410.20672):
 * every loop's hidden state goes through the final norm + LM head, and the next-token CE of each loop
 * is weighted and summed, Σ_l w_l·CE(logits_l, targets). loopLogits: one [T, V] per loop, shallowest first.
 */
export function perLoopCrossEntropy(
  loopLogits: readonly tf.Tensor2D[],
  targets: Int32Array,
  options: PerLoopLossOptions = {},
): tf.Scalar {
  if (loopLogits.length === 0) throw new RangeError('perLoopCrossEntropy: no loops');
  const w = loopWeights(loopLogits.length, options.weights, options.normalize ?? true);
  return tf.tidy(() => {
    const terms = loopLogits.flatMap((logits, l) =>
      (w[l] ?? 0) === 0 ? [] : [tf.mul(crossEntropy(logits, targets), w[l] ?? 0)],
    );
    return (terms.length === 0 ? tf.scalar(0) : tf.addN(terms)) as tf.Scalar;
  });
}
