import {
  decoderWeightSpecs,
  recursiveFromPretrained,
  type DecoderConfig,
  type RecursiveModelSpec,
  type SharingStrategy,
} from '@recur/graph';
import { Mulberry32, qr } from '@recur/tensor';

/** A tiny Llama: q/o [8, 8], k/v [4, 8], gate/up [12, 8], down [8, 12]. */
export const tinyConfig = (numLayers: number): DecoderConfig => ({
  vocabSize: 24,
  hiddenSize: 8,
  intermediateSize: 12,
  numLayers,
  numHeads: 2,
  numKvHeads: 1,
  headDim: 4,
  maxPositionEmbeddings: 32,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
});

/** Seeded weights for every key of a config; norm weights near 1 but distinct per layer. */
export function randomSource(config: DecoderConfig, seed: number): Map<string, Float32Array> {
  const random = new Mulberry32(seed);
  const out = new Map<string, Float32Array>();
  for (const spec of decoderWeightSpecs(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const isNorm = spec.shape.length === 1;
    out.set(
      spec.name,
      Float32Array.from({ length: size }, () =>
        isNorm ? 1 + 0.3 * (random.next() - 0.5) : 0.6 * (random.next() - 0.5),
      ),
    );
  }
  return out;
}

export function tiedSpec(
  numLayers: number,
  loops: number,
  strategy: SharingStrategy = 'cycle',
  seed = 1,
): { config: DecoderConfig; source: Map<string, Float32Array>; spec: RecursiveModelSpec } {
  const config = tinyConfig(numLayers);
  const source = randomSource(config, seed);
  return { config, source, spec: recursiveFromPretrained(config, source, { loops, strategy, init: 'average' }) };
}

/**
 * rows × cols matrix U·diag(s)·Vᵀ with random orthonormal U, V: its singular values are exactly s.
 * With `keep`, only the top `keep` terms of the same U, V (its best rank-`keep` approximation).
 */
export function matrixWithSpectrum(
  rows: number,
  cols: number,
  s: readonly number[],
  seed: number,
  keep = s.length,
): Float64Array {
  const random = new Mulberry32(seed);
  const k = s.length;
  const u = qr(
    Float64Array.from({ length: rows * k }, () => random.next() - 0.5),
    rows,
    k,
  ); // [rows, k]
  const v = qr(
    Float64Array.from({ length: cols * k }, () => random.next() - 0.5),
    cols,
    k,
  ); // [cols, k]
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++)
      for (let t = 0; t < keep; t++) out[i * cols + j] = out[i * cols + j]! + u[i * k + t]! * s[t]! * v[j * k + t]!;
  return out;
}

/** B·A in float64: [out, r]·[r, in]. */
export function product(
  b: ArrayLike<number>,
  a: ArrayLike<number>,
  rows: number,
  rank: number,
  cols: number,
): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let t = 0; t < rank; t++)
      for (let j = 0; j < cols; j++) out[i * cols + j] = out[i * cols + j]! + b[i * rank + t]! * a[t * cols + j]!;
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expectSameLength(a, b);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function expectSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
}
