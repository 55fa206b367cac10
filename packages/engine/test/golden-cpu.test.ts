import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { generate, type LoadedModel } from '../src/index.js';
import { loadModel } from '../src/node/index.js';
import { hfPath, readReference, type GreedyReference, type LogitsReference } from './stories260k.js';

// The same golden checks on tfjs's plain cpu backend (the fallback where wasm cannot start).
describe('stories260K golden outputs on the cpu backend', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    await initBackend({ backend: 'cpu' });
    model = await loadModel(hfPath);
  });
  afterAll(async () => {
    model.decoder.dispose();
    await initBackend({ backend: 'wasm' });
  });

  it('matches the reference logits within 1e-4', async () => {
    const ref = readReference<LogitsReference>('logits_prompt.json');
    const logits = model.decoder.forward(ref.ids);
    const rows = await logits.array();
    logits.dispose();
    const worst = Math.max(...rows.map((row, t) => Math.max(...row.map((v, j) => Math.abs(v - ref.logits[t]![j]!)))));
    expect(worst).toBeLessThan(1e-4);
  });

  it('greedy-decodes the reference 200 tokens and leaves no tensors behind', async () => {
    const greedy = readReference<GreedyReference>('greedy_bos_200.json');
    const before = tf.memory().numTensors;
    const result = await generate(model, {
      prompt: '',
      promptIds: [1],
      maxNewTokens: 200,
      temperature: 0,
      stopAtEos: false,
    });
    expect([1, ...result.ids]).toEqual(greedy.ids);
    expect(tf.memory().numTensors).toBe(before);
  });
});
