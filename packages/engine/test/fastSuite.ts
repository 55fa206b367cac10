import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf, wasmThreads } from '@recur/tensor';
import { disposeModel, fastDecoderFor, generate, type LoadedModel } from '../src/index.js';
import { loadModel } from '../src/node/index.js';
import { ggufPath, readReference, type GreedyReference, type LogitsReference } from './stories260k.js';

/** FastDecoder vs the tfjs Decoder on real weights: float32 both, different summation orders. */
const TOL = 1e-4;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

export function storiesFastSuite(threads: number): void {
  describe(`stories260K on the fast path, ${threads} wasm thread(s)`, () => {
    let model: LoadedModel;
    beforeAll(async () => {
      expect(await initBackend({ backend: 'wasm', threads })).toBe('wasm');
      expect(wasmThreads()).toBe(threads);
      model = await loadModel(ggufPath);
    });
    afterAll(() => disposeModel(model));

    it(`prefill + decode logits equal the tfjs Decoder within ${TOL}`, async () => {
      const { fast } = await fastDecoderFor(model);
      if (!fast) throw new Error('no fast path');
      const { ids } = readReference<LogitsReference>('logits_prompt.json');
      const pieces = [ids.slice(0, 9), ...ids.slice(9).map((id) => [id]), [5], [77], [300]];
      const [cache, fastCache] = [model.decoder.newCache(), fast.newCache(8)];
      for (const piece of pieces) {
        const logits = model.decoder.forward(piece, { cache });
        expect(
          maxAbsDiff(fast.forward(piece, { cache: fastCache }), (await logits.data()) as Float32Array),
        ).toBeLessThan(TOL);
        logits.dispose();
      }
      cache.dispose();
      fastCache.dispose();
    });

    it('greedy: BOS + 200 tokens identical to the reference, tensors flat', async () => {
      const greedy = readReference<GreedyReference>('greedy_bos_200.json');
      // builds the scratch once
      await generate(model, { prompt: '', promptIds: [greedy.ids[0]!], maxNewTokens: 2, stopAtEos: false, fast: true });
      const before = tf.memory().numTensors;
      const result = await generate(model, {
        prompt: '',
        promptIds: [greedy.ids[0]!],
        maxNewTokens: 200,
        stopAtEos: false,
        fast: true,
      });
      expect([...result.promptIds, ...result.ids]).toEqual(greedy.ids);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}
