import { crossEntropy, tf } from '@recur/tensor';
import type { Decoder } from '@recur/graph';

/**
 * A per-loop loss for early exit (Relaxed Recursive Transformers): every loop's hidden state goes
 * through the final norm and LM head, and the next-token CE of each is weighted and summed.
 * `weights[loop]` defaults to 1 for loops before the last and 0 for the last (the main loss covers it).
 */
export function earlyExitLoss(decoder: Decoder, weights?: readonly number[]): (loopStates: readonly tf.Tensor2D[], targets: Int32Array) => tf.Scalar {
  return (loopStates, targets) =>
    tf.tidy(() => {
      let total: tf.Scalar = tf.scalar(0);
      loopStates.forEach((h, loop) => {
        const w = weights?.[loop] ?? (loop < loopStates.length - 1 ? 1 : 0);
        if (w !== 0) total = tf.add(total, tf.mul(crossEntropy(decoder.head(h), targets), w));
      });
      return total;
    });
}
