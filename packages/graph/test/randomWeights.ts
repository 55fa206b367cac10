import type { DecoderConfig } from '../src/index.js';
import { decoderWeightSpecs } from '../src/index.js';

/** Seeded small-magnitude weights (norm weights near 1) for every checkpoint key of a config. */
export function randomWeights(config: DecoderConfig, seed: number): Map<string, Float32Array> {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296 - 0.5;
  };
  const out = new Map<string, Float32Array>();
  for (const spec of decoderWeightSpecs(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const isNorm = spec.shape.length === 1 && spec.name.endsWith('norm.weight');
    out.set(
      spec.name,
      Float32Array.from({ length: size }, () => (isNorm ? 1 + 0.2 * next() : 0.4 * next())),
    );
  }
  return out;
}
