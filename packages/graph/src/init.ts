import { tf } from '@recur/tensor';
import type { DecoderConfig } from './config.js';
import { Decoder } from './decoder.js';
import { decoderWeightSpecs } from './weights.js';

/**
 * A freshly initialised decoder: N(0, std²) matrices (std = initializer_range, 0.02 as in HF
 * Llama), norm weights at 1. Seeded, so two calls give the same model.
 */
export function randomDecoder(config: DecoderConfig, options: { seed?: number; std?: number } = {}): Decoder {
  const std = options.std ?? 0.02;
  const seed = options.seed ?? 0;
  const weights = new Map<string, tf.Tensor>();
  decoderWeightSpecs(config).forEach((spec, i) => {
    const shape = [...spec.shape];
    const isNorm = shape.length === 1 && spec.name.endsWith('norm.weight');
    weights.set(spec.name, isNorm ? tf.ones(shape) : tf.randomNormal(shape, 0, std, 'float32', tensorSeed(seed + i)));
  });
  return new Decoder(config, weights);
}

/** tfjs treats a seed of 0 as "no seed" (Math.random), so 0 maps to a fixed stand-in that no other tensor uses. */
function tensorSeed(seed: number): number {
  return seed === 0 ? -1 : seed;
}
