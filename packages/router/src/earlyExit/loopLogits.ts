import type { tf } from '@recur/tensor';
import type { Decoder } from '@recur/graph';

/**
 * Readouts of the loop states a forward reports through ForwardOptions.onLoopEnd: final norm + LM head
 * per loop, [T, d] → [T, V]. The caller owns the results (call it inside the loss's tf.tidy).
 */
export function loopLogits(decoder: Pick<Decoder, 'head'>, loopStates: readonly tf.Tensor2D[]): tf.Tensor2D[] {
  return loopStates.map((h) => decoder.head(h));
}
