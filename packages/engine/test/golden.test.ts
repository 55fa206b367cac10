import { readFileSync } from 'node:fs';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { decodeUtf8Prefix, evaluatePerplexity, generate, type LoadedModel } from '../src/index.js';
import { loadModel } from '../src/node/index.js';
import {
  ggufPath,
  hfPath,
  readReference,
  sharedDir,
  type GreedyReference,
  type LogitsReference,
  type PerplexityReference,
} from './stories260k.js';

const greedy = readReference<GreedyReference>('greedy_bos_200.json');
const logitsRef = readReference<LogitsReference>('logits_prompt.json');
const perplexityRef = readReference<PerplexityReference>('perplexity.json');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

describe.each([
  ['gguf', ggufPath],
  ['hf', hfPath],
])('stories260K golden outputs from the %s checkpoint', (_format, path) => {
  let model: LoadedModel;
  beforeAll(async () => {
    await initBackend();
    model = await loadModel(path);
  });
  afterAll(() => model.decoder.dispose());

  it('greedy-decodes the reference 200 tokens from BOS', async () => {
    const result = await generate(model, {
      prompt: '',
      promptIds: [1],
      maxNewTokens: 200,
      temperature: 0,
      stopAtEos: false,
    });
    expect([1, ...result.ids]).toEqual(greedy.ids);
    expect(result.text.trim()).toBe(greedy.text.trim());
  });

  it('tokenizes the reference prompt and matches its logits within 1e-4', async () => {
    expect(model.tokenizer.encode(logitsRef.prompt, { addBos: true })).toEqual(logitsRef.ids);
    const logits = model.decoder.forward(logitsRef.ids);
    const values = await logits.array();
    logits.dispose();
    const worst = Math.max(...values.map((row, t) => maxAbsDiff(row, logitsRef.logits[t]!)));
    expect(worst).toBeLessThan(1e-4);
  });

  it('cached decode gives the same logits as one full forward', async () => {
    const cache = model.decoder.newCache();
    const rows: number[][] = [];
    for (const id of logitsRef.ids) {
      const step = model.decoder.forward([id], { cache });
      rows.push(...(await step.array()));
      step.dispose();
    }
    cache.dispose();
    const worst = Math.max(...rows.map((row, t) => maxAbsDiff(row, logitsRef.logits[t]!)));
    expect(worst).toBeLessThan(1e-4);
  });

  it.each(perplexityRef.results.map((r) => [r.file, r] as const))(
    'perplexity of %s matches the protocol',
    async (_file, ref) => {
      const text = decodeUtf8Prefix(readFileSync(`${sharedDir}${ref.file}`), ref.bytes_used);
      const result = await evaluatePerplexity(model, text, { window: ref.window_tokens_including_bos });
      expect(result.tokens).toBe(ref.num_tokens_scored);
      expect(Math.abs(result.perplexity / ref.perplexity - 1)).toBeLessThan(0.005);
      expect(Math.abs(result.meanNll - ref.mean_nll_nats)).toBeLessThan(1e-4);
    },
  );

  it('a forward and a 50-token generation leave no tensors behind', async () => {
    const before = tf.memory().numTensors;
    model.decoder.forward(logitsRef.ids).dispose();
    await generate(model, { prompt: 'Once upon a time', maxNewTokens: 50, temperature: 0.8, topK: 40, seed: 3 });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the two loaders agree', () => {
  it('gives identical logits from the .gguf file and the hf/ folder', async () => {
    await initBackend();
    const [a, b] = await Promise.all([loadModel(ggufPath), loadModel(hfPath)]);
    const la = a.decoder.forward(logitsRef.ids);
    const lb = b.decoder.forward(logitsRef.ids);
    expect(maxAbsDiff(await la.data(), await lb.data())).toBeLessThan(1e-6);
    tf.dispose([la, lb]);
    a.decoder.dispose();
    b.decoder.dispose();
  });
});
