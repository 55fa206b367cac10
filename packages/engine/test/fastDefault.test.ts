import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import {
  convertModel,
  decodeUtf8Prefix,
  disposeModel,
  evaluatePerplexity,
  generate,
  parseExitRule,
  type LoadedModel,
} from '../src/index.js';
import { loadModel } from '../src/node/index.js';
import { hfPath, readReference, sharedDir, type GreedyReference, type PerplexityReference } from './stories260k.js';

// Issue 16 §1: the library's generate and perplexity run the fused path by default; `fast: false` runs tfjs.
const greedy = readReference<GreedyReference>('greedy_bos_200.json');
const ref = readReference<PerplexityReference>('perplexity.json').results[0]!;

describe('engine defaults to the fast path', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    model = await loadModel(hfPath);
  });
  afterAll(() => disposeModel(model));

  it('generate() with no path option runs fast; fast: false runs tfjs; both give the golden tokens', async () => {
    const options = { prompt: '', promptIds: [1], maxNewTokens: 200, temperature: 0, stopAtEos: false };
    const fast = await generate(model, options);
    const tfjs = await generate(model, { ...options, fast: false });
    expect([fast.path, tfjs.path]).toEqual(['fast', 'tfjs']);
    expect([1, ...fast.ids]).toEqual(greedy.ids);
    expect(tfjs.ids).toEqual(fast.ids);
  });

  it('evaluatePerplexity() scores on the fast path within 1e-4 NLL of the reference and of tfjs', async () => {
    const text = decodeUtf8Prefix(readFileSync(`${sharedDir}${ref.file}`), ref.bytes_used);
    const fast = await evaluatePerplexity(model, text, { window: ref.window_tokens_including_bos });
    const tfjs = await evaluatePerplexity(model, text, { window: ref.window_tokens_including_bos, fast: false });
    expect([fast.path, tfjs.path]).toEqual(['fast', 'tfjs']);
    expect(fast.tokens).toBe(ref.num_tokens_scored);
    expect(Math.abs(fast.meanNll - ref.mean_nll_nats)).toBeLessThan(1e-4);
    expect(Math.abs(fast.meanNll - tfjs.meanNll)).toBeLessThan(1e-4);
  });
});

describe('per-token depth: early-exit policies run on the fused kernels by default', () => {
  let source: LoadedModel;
  let model: LoadedModel;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    source = await loadModel(hfPath);
    model = await convertModel(source, {
      strategy: 'middle-cycle',
      loops: 2,
      init: 'lower',
      ranks: { attention: 4, mlp: 4 },
      loraInit: 'svd',
      norms: 'per-loop',
    });
  });
  afterAll(() => {
    disposeModel(model);
    disposeModel(source);
  });

  it.each([
    ['maxprob:0.5', 'copy'],
    ['maxprob:0.5', 'shared'],
    ['fixed:1', 'copy'],
  ] as const)('--exit %s (kv %s): path fast, the same ids and depths as the tfjs path', async (rule, kvMode) => {
    const options = {
      prompt: 'Once upon a time',
      maxNewTokens: 20,
      stopAtEos: false,
      exit: parseExitRule(rule),
      kvMode,
    };
    const fast = await generate(model, options);
    const tfjs = await generate(model, { ...options, fast: false });
    expect([fast.path, tfjs.path]).toEqual(['fast', 'tfjs']);
    expect(fast.ids).toEqual(tfjs.ids);
    expect(fast.depths).toEqual(tfjs.depths);
    expect(fast.text).toBe(tfjs.text);
  });
});
