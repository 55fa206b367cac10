import type { Decoder } from '@recur/graph';
import { crossEntropy, tf } from '@recur/tensor';

/** Mean next-token NLL (nats) over held-out windows, each scored on its own from position 0. */
export function heldOutLoss(decoder: Decoder, windows: readonly Int32Array[]): { meanNll: number; tokens: number } {
  let total = 0;
  let tokens = 0;
  for (const window of windows) {
    const targets = window.subarray(1);
    const loss = tf.tidy(() => crossEntropy(decoder.forward(window.subarray(0, window.length - 1)), targets));
    total += loss.dataSync()[0]! * targets.length;
    tokens += targets.length;
    loss.dispose();
  }
  return { meanNll: tokens > 0 ? total / tokens : NaN, tokens };
}
