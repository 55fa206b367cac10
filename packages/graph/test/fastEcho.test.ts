import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { Decoder, FastDecoder, type DecoderConfig } from '../src/index.js';
import { chunks, decoderLogits, maxAbsDiff, recursiveFast, smallFast, TOL, wideFast } from './fastSuite.js';
import { randomWeights } from './randomWeights.js';

// EchoAtt (arXiv 2409.14595) on the fused kernels: reusing steps apply a source step's kept probabilities.
const echoSmall: DecoderConfig = {
  ...smallFast,
  numLayers: 4,
  echoAttention: [
    { step: 2, source: 1 },
    { step: 3, source: 1 },
  ],
};
/** Steps 0,1,0,1,0: step 2 (layer 0 again) reuses step 0's maps, step 3 step 1's; layer 0 keeps q/k for step 0. */
const echoRecursive: DecoderConfig = {
  ...recursiveFast,
  echoAttention: [
    { step: 2, source: 0 },
    { step: 3, source: 1 },
    { step: 4, source: 0 },
  ],
};
/** qkv bias, scaled RoPE, every kernel on the pool; the last layer only reuses maps. */
const echoWide: DecoderConfig = { ...wideFast, echoAttention: [{ step: 1, source: 0 }] };

describe('FastDecoder with EchoAtt', () => {
  beforeAll(async () => {
    expect(await initBackend({ backend: 'wasm' })).toBe('wasm');
  });

  for (const [name, config] of [
    ['4 layers, 2 and 3 reuse 1', echoSmall],
    ['recursive 0,1,0,1,0 with reused loops', echoRecursive],
    ['wide, qkv bias, echo-only last layer', echoWide],
  ] as const) {
    it(`${name}: prefill + decode logits equal the tfjs Decoder within ${TOL}; tensors back to baseline`, async () => {
      expect(FastDecoder.unsupported(config)).toBeUndefined();
      const decoder = Decoder.fromArrays(config, randomWeights(config, 3));
      const pieces = chunks(config.vocabSize, 1);
      const expected = await decoderLogits(decoder, pieces);
      const before = tf.memory().numTensors;
      const fast = (await FastDecoder.create(config, decoder.weights))!;
      const cache = fast.newCache(4); // grows (and copies) on the way
      pieces.forEach((piece, i) => expect(maxAbsDiff(fast.forward(piece, { cache }), expected[i]!)).toBeLessThan(TOL));
      const last = fast.forward([5, 6, 7], { cache, lastOnly: true });
      const [ref] = await decoderLogits(decoder, [[...pieces.flat(), 5, 6, 7]]);
      expect(maxAbsDiff(last, ref!.subarray(-config.vocabSize))).toBeLessThan(TOL);
      cache.dispose();
      fast.dispose();
      expect(tf.memory().numTensors).toBe(before);
      decoder.dispose();
    });
  }

  it('a batch of 5 sequences (different lengths, several row chunks) equals the tfjs Decoder per sequence', async () => {
    const config = echoWide;
    const decoder = Decoder.fromArrays(config, randomWeights(config, 5));
    const fast = (await FastDecoder.create(config, decoder.weights, { chunkRows: 8 }))!;
    const prompts = Array.from({ length: 5 }, (_, b) =>
      Array.from({ length: 2 + 3 * b }, (_, i) => (i * 13 + b * 7) % config.vocabSize),
    );
    const caches = prompts.map(() => fast.newCache());
    const prefill = fast.forwardBatch(
      prompts.map((ids, b) => ({ cache: caches[b]!, ids })),
      { lastOnly: true },
    );
    const step = fast.forwardBatch(prompts.map((p, b) => ({ cache: caches[b]!, ids: [(p.length * 3) % 100] })));
    for (const [b, prompt] of prompts.entries()) {
      const ref = await decoderLogits(decoder, [prompt, [(prompt.length * 3) % 100]]);
      expect(maxAbsDiff(prefill[b]!, ref[0]!.subarray(-config.vocabSize))).toBeLessThan(TOL);
      expect(maxAbsDiff(step[b]!, ref[1]!)).toBeLessThan(TOL);
    }
    for (const c of caches) c.dispose();
    fast.dispose();
    decoder.dispose();
  });

  it('per-token depth is refused with a clear error', async () => {
    const decoder = Decoder.fromArrays(echoRecursive, randomWeights(echoRecursive, 2));
    const fast = (await FastDecoder.create(echoRecursive, decoder.weights))!;
    const cache = fast.newCache();
    expect(() => fast.forwardDepth([1, 2], { cache })).toThrow(/EchoAtt.*full depth only/);
    cache.dispose();
    fast.dispose();
    decoder.dispose();
  });
});
