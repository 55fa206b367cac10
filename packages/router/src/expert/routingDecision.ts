import type { tf } from '@recur/tensor';

/**
 * What one recursion's router hands the forward loop. The loop runs the shared block on
 * h[selected] only and scatters back with scatterGatedUpdate(h, selected, blockOut, gate).
 * The caller owns (and disposes) the tensors.
 */
export interface RoutingDecision {
  /** Tokens the router looked at (those kept at r − 1), positions ascending. */
  readonly candidates: Int32Array;
  /** Tokens that run this recursion, positions ascending; a subset of candidates. */
  readonly selected: Int32Array;
  /** 1 where candidates[j] was selected: the BCE targets. */
  readonly selectedMask: Uint8Array;
  /** Raw router logits of the candidates: [A]. */
  readonly logits: tf.Tensor1D;
  /** Gate values of the selected tokens, in `selected` order: [k]. */
  readonly gate: tf.Tensor1D;
}

/** All positions 0..T−1: the candidates of the first recursion. */
export function allTokens(numTokens: number): Int32Array {
  return Int32Array.from({ length: numTokens }, (_, t) => t);
}

/** Throws unless `positions` are strictly increasing token positions below numTokens. */
export function checkPositions(positions: Int32Array, numTokens: number, what: string): void {
  for (let j = 0; j < positions.length; j++) {
    const p = positions[j] ?? -1;
    if (p < 0 || p >= numTokens || (j > 0 && p <= (positions[j - 1] ?? -1))) {
      throw new RangeError(
        `${what}: positions must be strictly increasing in 0..${numTokens - 1}, got ${p} at index ${j}`,
      );
    }
  }
}
