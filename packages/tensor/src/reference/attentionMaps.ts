import { expectShape } from '../errors.js';
import { checkLength } from './checkLength.js';

export interface AttentionMapDims {
  readonly tokens: number; // T queries
  readonly keys: number; // S keys
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Absolute position of query 0; key s is at position s. */
  readonly queryOffset: number;
}

/** q [T, heads, hd], k [S, kvHeads, hd] → causal probabilities [heads, T, S] (0 past each row's position), float64. */
export function refAttentionProbabilities(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  dims: AttentionMapDims,
): Float64Array {
  const { tokens, keys, heads, kvHeads, headDim, queryOffset } = dims;
  checkLength('refAttentionProbabilities', 'q', q, [tokens, heads, headDim]);
  checkLength('refAttentionProbabilities', 'k', k, [keys, kvHeads, headDim]);
  expectShape(heads % kvHeads === 0, 'refAttentionProbabilities', () => `heads ${heads} vs kvHeads ${kvHeads}`);
  const out = new Float64Array(heads * tokens * keys);
  for (let h = 0; h < heads; h++) {
    const kv = Math.floor(h / (heads / kvHeads));
    for (let t = 0; t < tokens; t++) {
      const visible = Math.min(keys, queryOffset + t + 1);
      const scores = Array.from({ length: visible }, (_, s) => {
        let dot = 0;
        for (let i = 0; i < headDim; i++)
          dot += (q[(t * heads + h) * headDim + i] as number) * (k[(s * kvHeads + kv) * headDim + i] as number);
        return dot / Math.sqrt(headDim);
      });
      const max = Math.max(...scores);
      const weights = scores.map((x) => Math.exp(x - max));
      const sum = weights.reduce((a, b) => a + b, 0);
      weights.forEach((w, s) => {
        out[(h * tokens + t) * keys + s] = w / sum;
      });
    }
  }
  return out;
}

/** p [heads, T, S] applied to v [S, kvHeads, hd] → [T, heads·hd], float64 (EchoAtt's reused attention). */
export function refApplyAttentionProbabilities(
  p: ArrayLike<number>,
  v: ArrayLike<number>,
  dims: Omit<AttentionMapDims, 'queryOffset'>,
): Float64Array {
  const { tokens, keys, heads, kvHeads, headDim } = dims;
  checkLength('refApplyAttentionProbabilities', 'p', p, [heads, tokens, keys]);
  checkLength('refApplyAttentionProbabilities', 'v', v, [keys, kvHeads, headDim]);
  const out = new Float64Array(tokens * heads * headDim);
  for (let h = 0; h < heads; h++) {
    const kv = Math.floor(h / (heads / kvHeads));
    for (let t = 0; t < tokens; t++)
      for (let s = 0; s < keys; s++) {
        const w = p[(h * tokens + t) * keys + s] as number;
        for (let i = 0; i < headDim; i++) {
          const at = (t * heads + h) * headDim + i;
          out[at] = (out[at] as number) + w * (v[(s * kvHeads + kv) * headDim + i] as number);
        }
      }
  }
  return out;
}

/** Mean over heads and rows of 1 − JS(a_row ‖ b_row) in bits; a, b [heads, T, S] probability rows, float64. */
export function refAttentionMapSimilarity(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dims: { readonly heads: number; readonly tokens: number; readonly keys: number },
): number {
  const { heads, tokens, keys } = dims;
  checkLength('refAttentionMapSimilarity', 'a', a, [heads, tokens, keys]);
  checkLength('refAttentionMapSimilarity', 'b', b, [heads, tokens, keys]);
  let total = 0;
  for (let row = 0; row < heads * tokens; row++) {
    let js = 0;
    for (let s = 0; s < keys; s++) {
      const p = a[row * keys + s] as number;
      const q = b[row * keys + s] as number;
      const m = (p + q) / 2;
      if (p > 0) js += 0.5 * p * Math.log2(p / m);
      if (q > 0) js += 0.5 * q * Math.log2(q / m);
    }
    total += 1 - js;
  }
  return total / (heads * tokens);
}
