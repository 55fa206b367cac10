/** A part as plain arrays: A [r, in] and B [out, r] row-major, and its scale. */
export interface ReferencePart {
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly rank: number;
  readonly scale: number;
}

/** How the reference mixes the parts: fixed scales (ScaLearn: [out] or [1] per part) or a gate. */
export type ReferenceMix =
  | { readonly kind: 'scales'; readonly scales: readonly Float64Array[] }
  | {
      readonly kind: 'gate';
      readonly weight: Float64Array; // [n, in]
      readonly bias: Float64Array; // [n]
      readonly activation: 'softmax' | 'sigmoid';
    };

/**
 * The composed delta [T, out] of a projection in float64, written out loop by loop: the plain
 * reference ScaLearnAdapter, scaledLora and GatedFusion are tested against.
 */
export function composedDeltaReference(
  x: Float64Array, // [T, in]
  shape: { readonly rows: number; readonly inputs: number; readonly outputs: number },
  parts: readonly ReferencePart[],
  mix: ReferenceMix,
): Float64Array {
  const { rows, inputs, outputs } = shape;
  const out = new Float64Array(rows * outputs);
  for (let t = 0; t < rows; t++) {
    const row = x.subarray(t * inputs, (t + 1) * inputs);
    const weights = mixWeights(row, parts.length, mix);
    parts.forEach((part, p) => {
      const low = new Float64Array(part.rank);
      for (let k = 0; k < part.rank; k++) for (let i = 0; i < inputs; i++) low[k]! += part.a[k * inputs + i]! * row[i]!;
      for (let o = 0; o < outputs; o++) {
        let delta = 0;
        for (let k = 0; k < part.rank; k++) delta += part.b[o * part.rank + k]! * low[k]!;
        const scale = mix.kind === 'scales' ? scaleAt(mix.scales[p]!, o) : weights[p]!;
        out[t * outputs + o]! += scale * part.scale * delta;
      }
    });
  }
  return out;
}

const scaleAt = (scales: Float64Array, o: number) => (scales.length === 1 ? scales[0]! : scales[o]!);

function mixWeights(row: Float64Array, n: number, mix: ReferenceMix): Float64Array {
  const weights = new Float64Array(n);
  if (mix.kind === 'scales') return weights;
  for (let p = 0; p < n; p++) {
    let logit = mix.bias[p]!;
    for (let i = 0; i < row.length; i++) logit += mix.weight[p * row.length + i]! * row[i]!;
    weights[p] = logit;
  }
  if (mix.activation === 'sigmoid') return weights.map((z) => 1 / (1 + Math.exp(-z)));
  const top = Math.max(...weights);
  const exps = weights.map((z) => Math.exp(z - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}
