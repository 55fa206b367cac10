import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import {
  ConfigError,
  Decoder,
  decoderWeightSpecs,
  echoOnlyLayers,
  parameterCount,
  randomDecoder,
  type DecoderConfig,
} from '../src/index.js';
import { referenceForward } from './referenceDecoder.js';
import { randomWeights } from './randomWeights.js';

// EchoAtt (arXiv 2409.14595) on the tfjs executor: later steps reuse an earlier step's attention maps.
const plain: DecoderConfig = {
  vocabSize: 40,
  hiddenSize: 24,
  intermediateSize: 32,
  numLayers: 4,
  numHeads: 6,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
};
const echo: DecoderConfig = {
  ...plain,
  echoAttention: [
    { step: 2, source: 1 },
    { step: 3, source: 1 },
  ],
};
const ids = [3, 17, 5, 39, 0, 22, 8, 11, 30];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe('EchoAtt decoder', () => {
  beforeAll(() => initBackend());

  it('with an empty plan gives exactly the source logits', () => {
    const arrays = randomWeights(plain, 5);
    const source = Decoder.fromArrays(plain, arrays);
    const empty = Decoder.fromArrays({ ...plain, echoAttention: [] }, arrays);
    const [a, b] = [source, empty].map((d) => tf.tidy(() => d.forward(ids).dataSync()));
    expect(Array.from(b!)).toEqual(Array.from(a!));
    source.dispose();
    empty.dispose();
  });

  it('drops the q/k weights of layers that only reuse maps and matches the float64 reference', () => {
    expect([...echoOnlyLayers(echo)]).toEqual([2, 3]);
    const names = decoderWeightSpecs(echo).map((s) => s.name);
    expect(names).not.toContain('model.layers.2.self_attn.q_proj.weight');
    expect(names).not.toContain('model.layers.3.self_attn.k_proj.weight');
    expect(names).toContain('model.layers.1.self_attn.q_proj.weight');
    const qk = 2 * (6 * 4 * 24 + 2 * 4 * 24);
    expect(parameterCount(plain) - parameterCount(echo)).toBe(qk);
    const arrays = randomWeights(echo, 7);
    const decoder = Decoder.fromArrays(echo, arrays);
    const before = tf.memory().numTensors;
    const got = tf.tidy(() => decoder.forward(ids).dataSync());
    expect(tf.memory().numTensors).toBe(before);
    expect(maxDiff(got, referenceForward(echo, arrays, ids))).toBeLessThan(1e-4);
    decoder.dispose();
  });

  it('decodes token by token through its cache as one prefill does (the reusing steps keep only values)', () => {
    const decoder = randomDecoder(echo, { seed: 3, std: 0.3 });
    const before = tf.memory().numTensors;
    const full = tf.tidy(() => decoder.forward(ids).dataSync());
    const cache = decoder.newCache();
    const rows = ids.map((id) => tf.tidy(() => decoder.forward([id], { cache }).dataSync()));
    const plainCache = randomDecoder(plain, { seed: 3, std: 0.3 });
    const keysAndValues = plainCache.newCache();
    tf.tidy(() => plainCache.forward(ids, { cache: keysAndValues }).dispose());
    // Two of four steps store values only: 6 of 8 halves of the plain cache.
    expect(cache.elementCount()).toBe((keysAndValues.elementCount() * 6) / 8);
    keysAndValues.dispose();
    plainCache.dispose();
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const V = echo.vocabSize;
    rows.forEach((row, t) => expect(maxDiff(row, full.subarray(t * V, (t + 1) * V))).toBeLessThan(1e-5));
    decoder.dispose();
  });

  it('works on a recursive model: a shared layer with a computing run keeps q/k', () => {
    const looped: DecoderConfig = {
      ...plain,
      numLayers: 3,
      layerOrder: [0, 1, 1, 1, 2],
      echoAttention: [{ step: 3, source: 2 }],
    };
    expect(echoOnlyLayers(looped).size).toBe(0);
    const decoder = randomDecoder(looped, { seed: 4, std: 0.3 });
    const base = new Decoder({ ...looped, echoAttention: [] }, decoder.weights);
    const [a, b] = [decoder, base].map((d) => tf.tidy(() => d.forward(ids).dataSync()));
    expect(a!.every(Number.isFinite)).toBe(true);
    expect(maxDiff(a!, b!)).toBeGreaterThan(1e-6); // the reuse changes step 3
    decoder.dispose();
  });

  it('refuses plans that reuse a later, missing or reusing step', () => {
    for (const plan of [
      [{ step: 1, source: 1 }],
      [{ step: 1, source: 2 }],
      [{ step: 4, source: 1 }],
      [
        { step: 2, source: 1 },
        { step: 3, source: 2 },
      ],
      [
        { step: 2, source: 1 },
        { step: 2, source: 0 },
      ],
    ])
      expect(() => randomDecoder({ ...plain, echoAttention: plan })).toThrow(ConfigError);
  });
});
