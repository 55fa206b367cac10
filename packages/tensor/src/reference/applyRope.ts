import { checkLength } from './checkLength.js';

export interface RopeDims {
  readonly tokens: number;
  readonly heads: number;
  readonly headDim: number;
}

/**
 * x: [tokens, heads, headDim] → same shape. Rotate-half RoPE written as the pairwise rotation
 * it is: channel i and i + headDim/2 turn by angle positions[t]·invFreq[i].
 */
export function refApplyRope(
  x: Float32Array,
  positions: Int32Array,
  invFreq: Float32Array,
  dims: RopeDims,
): Float32Array {
  const { tokens, heads, headDim } = dims;
  const half = headDim / 2;
  checkLength('refApplyRope', 'x', x, [tokens, heads, headDim]);
  checkLength('refApplyRope', 'positions', positions, [tokens]);
  checkLength('refApplyRope', 'invFreq', invFreq, [half]);
  const out = new Float32Array(x.length); // [tokens, heads, headDim]
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const angle = (positions[t] ?? 0) * (invFreq[i] ?? 0);
        const [c, s] = [Math.cos(angle), Math.sin(angle)];
        const x1 = x[base + i] ?? 0;
        const x2 = x[base + half + i] ?? 0;
        out[base + i] = x1 * c - x2 * s;
        out[base + half + i] = x2 * c + x1 * s;
      }
    }
  }
  return out;
}
