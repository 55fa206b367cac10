import { checkLength } from './checkLength.js';

export interface LinearDims {
  readonly rows: number;
  readonly inDim: number;
  readonly outDim: number;
}

/** x: [rows, inDim], weight: [outDim, inDim], bias: [outDim] → [rows, outDim] = x·Wᵀ (+ b), float64 sums. */
export function refLinear(
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array | undefined,
  dims: LinearDims,
): Float32Array {
  const { rows, inDim, outDim } = dims;
  checkLength('refLinear', 'x', x, [rows, inDim]);
  checkLength('refLinear', 'weight', weight, [outDim, inDim]);
  if (bias) checkLength('refLinear', 'bias', bias, [outDim]);
  const out = new Float32Array(rows * outDim); // [rows, outDim]
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let sum = bias?.[o] ?? 0;
      for (let i = 0; i < inDim; i++) sum += (x[r * inDim + i] ?? 0) * (weight[o * inDim + i] ?? 0);
      out[r * outDim + o] = sum;
    }
  }
  return out;
}
