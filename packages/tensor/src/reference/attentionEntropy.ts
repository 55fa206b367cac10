import { expectShape } from '../errors.js';
import { checkLength } from './checkLength.js';

export interface EntropyDims {
  readonly tokens: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/**
 * q [T, heads, headDim], k [T, kvHeads, headDim] → mean over heads and query rows of the entropy
 * (nats) of each causal attention row, float64, one row at a time as the definition reads.
 */
export function refAttentionEntropy(q: ArrayLike<number>, k: ArrayLike<number>, dims: EntropyDims): number {
  const { tokens, heads, kvHeads, headDim } = dims;
  checkLength('refAttentionEntropy', 'q', q, [tokens, heads, headDim]);
  checkLength('refAttentionEntropy', 'k', k, [tokens, kvHeads, headDim]);
  expectShape(heads % kvHeads === 0, 'refAttentionEntropy', () => `heads ${heads} is not a multiple of ${kvHeads}`);
  let total = 0;
  for (let h = 0; h < heads; h++) for (let t = 0; t < tokens; t++) total += rowEntropy(q, k, dims, t, h);
  return total / (heads * tokens);
}

function rowEntropy(q: ArrayLike<number>, k: ArrayLike<number>, dims: EntropyDims, t: number, h: number): number {
  const { heads, kvHeads, headDim } = dims;
  const kvHead = Math.floor(h / (heads / kvHeads));
  const scores = Array.from({ length: t + 1 }, (_, s) => {
    let dot = 0;
    for (let i = 0; i < headDim; i++)
      dot += (q[(t * heads + h) * headDim + i] as number) * (k[(s * kvHeads + kvHead) * headDim + i] as number);
    return dot / Math.sqrt(headDim);
  });
  const max = Math.max(...scores);
  const weights = scores.map((s) => Math.exp(s - max));
  const sum = weights.reduce((a, b) => a + b, 0);
  return -weights.reduce((acc, w) => (w === 0 ? acc : acc + (w / sum) * Math.log(w / sum)), 0);
}
