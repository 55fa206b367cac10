import { checkLength } from './checkLength.js';

export interface RmsNormDims {
  readonly rows: number;
  readonly dim: number;
}

/** x: [rows, dim], weight: [dim] → x / sqrt(mean(x²) + eps) · weight, float64 inside. */
export function refRmsNorm(x: Float32Array, weight: Float32Array, eps: number, dims: RmsNormDims): Float32Array {
  const { rows, dim } = dims;
  checkLength('refRmsNorm', 'x', x, [rows, dim]);
  checkLength('refRmsNorm', 'weight', weight, [dim]);
  const out = new Float32Array(rows * dim); // [rows, dim]
  for (let r = 0; r < rows; r++) {
    let sumSquares = 0;
    for (let i = 0; i < dim; i++) sumSquares += (x[r * dim + i] ?? 0) ** 2;
    const inv = 1 / Math.sqrt(sumSquares / dim + eps);
    for (let i = 0; i < dim; i++) out[r * dim + i] = (x[r * dim + i] ?? 0) * inv * (weight[i] ?? 0);
  }
  return out;
}
