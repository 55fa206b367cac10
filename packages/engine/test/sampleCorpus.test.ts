import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import { disposeModel, sampleCorpus, type LoadedModel } from '../src/index.js';
import { loadModel } from '../src/node/index.js';
import { hfPath } from './stories260k.js';

let teacher: LoadedModel;

beforeAll(async () => {
  await initBackend();
  teacher = await loadModel(hfPath);
});

afterAll(() => disposeModel(teacher));

describe('sampleCorpus', () => {
  // The CLI always passes onProgress; a library caller need not, and its tokens must still be counted.
  it('writes N tokens without an onProgress callback', async () => {
    const corpus = await sampleCorpus(teacher, { tokens: 300, maxDocTokens: 64, batch: 8, temperature: 1, seed: 3 });
    expect(corpus.path).toBe('fast');
    expect(corpus.tokens).toBe(300);
    const ids = corpus.documents.reduce((n, d) => n + teacher.tokenizer.encode(d, { addBos: false }).length, 0);
    expect(ids).toBeGreaterThan(150); // re-encoding may merge pieces differently, never halve them
  });
});
