import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import { randomDecoder, type DecoderConfig } from '../src/index.js';

const config: DecoderConfig = {
  vocabSize: 16,
  hiddenSize: 8,
  intermediateSize: 8,
  numLayers: 1,
  numHeads: 2,
  numKvHeads: 1,
  headDim: 4,
  maxPositionEmbeddings: 16,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
};

function embedding(seed: number): number[] {
  const decoder = randomDecoder(config, { seed });
  const values = Array.from(decoder.weights.get('model.embed_tokens.weight')!.dataSync());
  decoder.dispose();
  return values;
}

describe('randomDecoder', () => {
  beforeAll(() => initBackend());

  it('is reproducible for every seed, 0 included (tfjs reads a seed of 0 as "unseeded")', () => {
    expect(embedding(0)).toEqual(embedding(0));
    expect(embedding(0)).not.toEqual(embedding(1));
    expect(embedding(7)).toEqual(embedding(7));
  });
});
