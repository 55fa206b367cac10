import { checkLength } from './checkLength.js';
import { refLinear } from './linear.js';

export interface SwiGluDims {
  readonly rows: number;
  readonly dim: number;
  readonly ffDim: number;
}

/** Plain-array SwiGLU weights: gate and up [ffDim, dim], down [dim, ffDim]. */
export interface RefSwiGluWeights {
  readonly gate: Float32Array;
  readonly up: Float32Array;
  readonly down: Float32Array;
}

/** x: [rows, dim] → [rows, dim] = down(silu(gate(x)) · up(x)). */
export function refSwiGluMlp(x: Float32Array, w: RefSwiGluWeights, dims: SwiGluDims): Float32Array {
  const { rows, dim, ffDim } = dims;
  checkLength('refSwiGluMlp', 'x', x, [rows, dim]);
  const gate = refLinear(x, w.gate, undefined, { rows, inDim: dim, outDim: ffDim }); // [rows, ffDim]
  const up = refLinear(x, w.up, undefined, { rows, inDim: dim, outDim: ffDim }); // [rows, ffDim]
  const hidden = gate.map((g, i) => (g / (1 + Math.exp(-g))) * (up[i] ?? 0)); // [rows, ffDim]
  return refLinear(hidden, w.down, undefined, { rows, inDim: ffDim, outDim: dim }); // [rows, dim]
}
