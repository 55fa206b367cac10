import { expectShape } from '../errors.js';
import { checkLength } from './checkLength.js';

export interface AttentionDims {
  readonly tokens: number; // T queries
  readonly keys: number; // S keys/values
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Absolute position of query 0; key s is at position s. */
  readonly queryOffset: number;
}

/**
 * q: [T, heads, headDim], k and v: [S, kvHeads, headDim] → [T, heads·headDim]. One query row and
 * head at a time, exactly as the definition reads: visible keys s <= queryOffset + t, head h reads
 * kv head floor(h / (heads / kvHeads)), softmax with max subtraction, float64 throughout.
 */
export function refCausalAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dims: AttentionDims,
): Float32Array {
  const { tokens, keys, heads, kvHeads, headDim } = dims;
  checkLength('refCausalAttention', 'q', q, [tokens, heads, headDim]);
  checkLength('refCausalAttention', 'k', k, [keys, kvHeads, headDim]);
  checkLength('refCausalAttention', 'v', v, [keys, kvHeads, headDim]);
  expectShape(
    heads % kvHeads === 0,
    'refCausalAttention',
    () => `heads ${heads} is not a multiple of kvHeads ${kvHeads}`,
  );
  const out = new Float32Array(tokens * heads * headDim); // [T, heads·headDim]
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const row = attendOne(q, k, v, dims, t, h);
      out.set(row, (t * heads + h) * headDim);
    }
  }
  return out;
}

/** Output of query row t, head h: [headDim]. */
function attendOne(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dims: AttentionDims,
  t: number,
  h: number,
): Float64Array {
  const { keys, heads, kvHeads, headDim, queryOffset } = dims;
  const kvHead = Math.floor(h / (heads / kvHeads));
  const visible = Math.min(keys, queryOffset + t + 1);
  const scale = 1 / Math.sqrt(headDim);
  const scores = new Float64Array(visible); // [visible keys]
  for (let s = 0; s < visible; s++) {
    let dot = 0;
    for (let i = 0; i < headDim; i++)
      dot += (q[(t * heads + h) * headDim + i] ?? 0) * (k[(s * kvHeads + kvHead) * headDim + i] ?? 0);
    scores[s] = dot * scale;
  }
  const max = scores.reduce((a, b) => Math.max(a, b), -Infinity);
  let total = 0;
  for (let s = 0; s < visible; s++) total += scores[s] = Math.exp((scores[s] ?? 0) - max);
  const row = new Float64Array(headDim); // [headDim]
  for (let s = 0; s < visible; s++) {
    const p = (scores[s] ?? 0) / total;
    for (let i = 0; i < headDim; i++) row[i] = (row[i] ?? 0) + p * (v[(s * kvHeads + kvHead) * headDim + i] ?? 0);
  }
  return row;
}
