import { describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import { disposeModel, evaluatePerplexity } from '../src/index.js';
import { loadModel } from '../src/node/index.js';
import { hfPath } from './stories260k.js';

describe('evaluatePerplexity on text with nothing to score', () => {
  it('refuses instead of reporting NaN', async () => {
    await initBackend();
    const model = await loadModel(hfPath);
    try {
      await expect(evaluatePerplexity(model, '', { window: 64 })).rejects.toThrow(
        'no tokens to score: the text is empty',
      );
    } finally {
      disposeModel(model);
    }
  });
});
