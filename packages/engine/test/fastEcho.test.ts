import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { disposeModel, fastDecoderFor, generate, withEchoAttention, type LoadedModel } from '../src/index.js';
import { loadModel } from '../src/node/index.js';
import { hfPath } from './stories260k.js';

// EchoAtt (arXiv 2409.14595) on the fused path: stories260K with steps 3 and 4 reusing step 2's maps.
const TOL = 1e-4; // fast vs tfjs, as the fast-path suites
const plan = [
  { step: 3, source: 2 },
  { step: 4, source: 2 },
];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe('EchoAtt stories260K on the fast path', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    model = withEchoAttention(await loadModel(hfPath), plan);
  });
  afterAll(() => disposeModel(model));

  it('greedy generation runs fast and gives the tfjs tokens', async () => {
    const options = { prompt: 'Once upon a time', maxNewTokens: 60, temperature: 0, stopAtEos: false };
    const fast = await generate(model, options);
    const tfjs = await generate(model, { ...options, fast: false });
    expect([fast.path, tfjs.path]).toEqual(['fast', 'tfjs']);
    expect(fast.ids).toEqual(tfjs.ids);
  });

  it('a batch of 3 (prefill, then 4 decode steps) equals the tfjs decoder within 1e-4; tensors back to baseline', async () => {
    const choice = await fastDecoderFor(model);
    const fast = choice.fast!;
    const V = model.decoder.config.vocabSize;
    const prompts = [
      [1, 403, 9, 77, 12, 300, 41, 5, 88, 17],
      [1, 55, 66],
      [1, 200, 201, 202, 203, 7],
    ];
    const steps = [11, 29, 310, 4];
    const before = tf.memory().numTensors;
    const caches = prompts.map(() => fast.newCache());
    const got = [fast.forwardBatch(prompts.map((ids, b) => ({ cache: caches[b]!, ids })))];
    for (const id of steps) got.push(fast.forwardBatch(caches.map((cache, b) => ({ cache, ids: [id + b] }))));
    for (const c of caches) c.dispose();
    expect(tf.memory().numTensors).toBe(before);
    for (const [b, prompt] of prompts.entries()) {
      const cache = model.decoder.newCache();
      const pieces = [prompt, ...steps.map((id) => [id + b])];
      for (const [i, piece] of pieces.entries()) {
        const logits = model.decoder.forward(piece, { cache }); // [T, V]
        const want = (await logits.data()) as Float32Array;
        logits.dispose();
        expect(want.length).toBe(piece.length * V);
        expect(maxAbsDiff(got[i]![b]!, want)).toBeLessThan(TOL);
      }
      cache.dispose();
    }
  });
});
