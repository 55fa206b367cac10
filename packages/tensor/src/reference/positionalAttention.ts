import { expectShape } from '../errors.js';
import { checkLength } from './checkLength.js';

export interface PositionalAttentionDims {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly queryPositions: ArrayLike<number>;
  readonly keyPositions: ArrayLike<number>;
}

/**
 * q: [T, heads, headDim], k and v: [S, kvHeads, headDim] → [T, heads·headDim]; query t sees key s iff
 * keyPositions[s] <= queryPositions[t]. One row and head at a time, float64, as the definition reads.
 */
export function refPositionalAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dims: PositionalAttentionDims,
): Float32Array {
  const { heads, kvHeads, headDim, queryPositions, keyPositions } = dims;
  const [tokens, keys] = [queryPositions.length, keyPositions.length];
  checkLength('refPositionalAttention', 'q', q, [tokens, heads, headDim]);
  checkLength('refPositionalAttention', 'k', k, [keys, kvHeads, headDim]);
  checkLength('refPositionalAttention', 'v', v, [keys, kvHeads, headDim]);
  expectShape(
    heads % kvHeads === 0,
    'refPositionalAttention',
    () => `heads ${heads} is not a multiple of kvHeads ${kvHeads}`,
  );
  const out = new Float32Array(tokens * heads * headDim); // [T, heads·headDim]
  const scale = 1 / Math.sqrt(headDim);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const kvHead = Math.floor(h / (heads / kvHeads));
      const visible = Array.from({ length: keys }, (_, s) => s).filter((s) => keyPositions[s]! <= queryPositions[t]!);
      const scores = visible.map((s) => {
        let dot = 0;
        for (let i = 0; i < headDim; i++)
          dot += q[(t * heads + h) * headDim + i]! * k[(s * kvHeads + kvHead) * headDim + i]!;
        return dot * scale;
      });
      const max = Math.max(...scores);
      const weights = scores.map((x) => Math.exp(x - max));
      const total = weights.reduce((a, b) => a + b, 0);
      for (let i = 0; i < headDim; i++) {
        let acc = 0;
        visible.forEach((s, n) => (acc += (weights[n]! / total) * v[(s * kvHeads + kvHead) * headDim + i]!));
        out[(t * heads + h) * headDim + i] = acc;
      }
    }
  }
  return out;
}
