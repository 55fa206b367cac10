import { DVPT_EPS } from './op.js';

/** A row-major float64 matrix. */
export interface Matrix64 {
  readonly data: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

/**
 * Plain float64 reference of `dvptUpdate` over a whole sequence (positions 0 … T−1), written from the
 * formula without tensors or tricks: for each position t, each prompt attends over z_0 … z_t directly.
 * down [b, d], up [d, b], prompts [P, b], h [T, d] → h + update [T, d].
 */
export function dvptUpdateReference(
  h: Matrix64,
  params: { readonly down: Matrix64; readonly up: Matrix64; readonly prompts: Matrix64 },
): Float64Array {
  const { rows, cols: d } = h;
  const width = params.down.rows;
  const z = Array.from({ length: rows }, (_, t) => bottleneck(row(h, t), params.down));
  const out = new Float64Array(rows * d);
  for (let t = 0; t < rows; t++) {
    const dynamic = Array.from({ length: params.prompts.rows }, (_, p) => {
      const prompt = row(params.prompts, p);
      const weights = softmax(z.slice(0, t + 1).map((zs) => dot(prompt, zs) / Math.sqrt(width)));
      return prompt.map((e, j) => e + weights.reduce((sum, w, s) => sum + w * z[s]![j]!, 0));
    });
    const read = softmax(dynamic.map((prompt) => dot(z[t]!, prompt) / Math.sqrt(width)));
    const update = Array.from({ length: width }, (_, j) => read.reduce((sum, a, p) => sum + a * dynamic[p]![j]!, 0));
    for (let i = 0; i < d; i++) out[t * d + i] = h.data[t * d + i]! + dot(row(params.up, i), update);
  }
  return out;
}

function bottleneck(h: readonly number[], down: Matrix64): number[] {
  const rms = Math.sqrt(h.reduce((sum, v) => sum + v * v, 0) / h.length + DVPT_EPS);
  const x = h.map((v) => v / rms);
  return Array.from({ length: down.rows }, (_, j) => dot(row(down, j), x));
}

const row = (m: Matrix64, r: number): number[] => Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols));
const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((sum, v, i) => sum + v * b[i]!, 0);

function softmax(values: readonly number[]): number[] {
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}
