import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { ConfigError, Decoder, decoderWeightSpecs, parameterCount, type DecoderConfig } from '../src/index.js';
import { referenceForward } from './referenceDecoder.js';
import { randomWeights } from './randomWeights.js';

const small: DecoderConfig = {
  vocabSize: 50,
  hiddenSize: 24,
  intermediateSize: 40,
  numLayers: 3,
  numHeads: 6,
  numKvHeads: 2,
  headDim: 6,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: false,
};

const stories260kShape: DecoderConfig = {
  vocabSize: 512,
  hiddenSize: 64,
  intermediateSize: 172,
  numLayers: 5,
  numHeads: 8,
  numKvHeads: 4,
  headDim: 8,
  maxPositionEmbeddings: 512,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
};

describe('Decoder', () => {
  beforeAll(() => initBackend());

  it('counts parameters exactly (stories260K: 260,032 with tied embeddings)', () => {
    expect(parameterCount(stories260kShape)).toBe(260_032);
    expect(parameterCount({ ...stories260kShape, tieWordEmbeddings: false })).toBe(260_032 + 512 * 64);
  });

  it('matches a plain-array reference forward', async () => {
    const arrays = randomWeights(small, 42);
    const decoder = Decoder.fromArrays(small, arrays);
    const ids = [3, 17, 4, 49, 0, 22, 8];
    const logits = decoder.forward(ids);
    const expected = referenceForward(small, arrays, ids);
    const got = await logits.data();
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[i]!));
    expect(worst).toBeLessThan(1e-4);
    logits.dispose();
    decoder.dispose();
  });

  it('gives the same logits for chunked prefill, token-by-token decode and one full forward', async () => {
    const decoder = Decoder.fromArrays(small, randomWeights(small, 7));
    const ids = [1, 5, 9, 2, 33, 7, 12, 40];
    const full = await decoder.forward(ids).array();
    const cache = decoder.newCache();
    const chunked = [
      ...(await decoder.forward(ids.slice(0, 3), { cache }).array()),
      ...(await decoder.forward(ids.slice(3, 5), { cache }).array()),
    ];
    for (const id of ids.slice(5)) chunked.push(...(await decoder.forward([id], { cache }).array()));
    expect(cache.length).toBe(ids.length);
    const worst = Math.max(...full.map((row, t) => Math.max(...row.map((v, j) => Math.abs(v - chunked[t]![j]!)))));
    expect(worst).toBeLessThan(1e-5);
    cache.dispose();
    decoder.dispose();
  });

  it('leaves tensor counts where they started after forwards and cache disposal', () => {
    const decoder = Decoder.fromArrays(small, randomWeights(small, 1));
    const before = tf.memory().numTensors;
    const cache = decoder.newCache();
    decoder.forward([1, 2, 3], { cache }).dispose();
    decoder.forward([4], { cache, lastOnly: true }).dispose();
    decoder.forward([5, 6]).dispose();
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
    decoder.dispose();
  });

  it('refuses bad configs, wrong shapes and out-of-vocabulary ids', () => {
    expect(() => Decoder.fromArrays({ ...small, numKvHeads: 4 }, randomWeights(small, 1))).toThrow(ConfigError);
    const arrays = new Map(randomWeights(small, 1));
    arrays.delete('model.norm.weight');
    expect(() => Decoder.fromArrays(small, arrays)).toThrow(/model\.norm\.weight/);
    const decoder = Decoder.fromArrays(small, randomWeights(small, 1));
    const before = tf.memory().numTensors;
    expect(() => decoder.forward([1, 50])).toThrow(/outside the vocabulary/);
    expect(tf.memory().numTensors).toBe(before);
    decoder.dispose();
  });

  it('lists one weight spec per checkpoint key', () => {
    const names = decoderWeightSpecs(small).map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('lm_head.weight');
    expect(names).toContain('model.layers.2.mlp.down_proj.weight');
  });
});
