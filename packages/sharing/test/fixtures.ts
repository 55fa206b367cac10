import { decoderWeightSpecs, type DecoderConfig } from '@recur/graph';
import { Mulberry32 } from '@recur/tensor';

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

/** Seeded weights for every key of a config; norm weights near 1. */
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

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}
