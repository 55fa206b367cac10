import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configFromHf } from '@recur/checkpoint';
import { checkTrainingFits, formatBytes, trainingBytes } from '../src/node/index.js';
import { hfPath } from './stories260k.js';

const stories = configFromHf(JSON.parse(readFileSync(`${hfPath}/config.json`, 'utf8')), 'config.json');
const plenty = { bytes: 1e12, where: 'this machine' };

describe('checkTrainingFits: refuse before allocating what the model or the machine cannot hold', () => {
  it('refuses sequences longer than the context, naming both numbers', () => {
    expect(() => checkTrainingFits(stories, { batchSize: 1, seqLen: 512 }, 'm', plenty)).not.toThrow();
    expect(() => checkTrainingFits(stories, { batchSize: 1, seqLen: 100000 }, 'm', plenty)).toThrow(
      "m: training sequences of 100000 tokens are longer than the model's context of 512 (max_position_embeddings)",
    );
  });

  it('estimates parameters × 16 bytes plus activations, and refuses past the limit with the figures', () => {
    const need = trainingBytes(stories, { batchSize: 8, seqLen: 512 });
    expect(need.parameters).toBe(260_032 * 16); // weight, gradient and two AdamW moments, 4 bytes each
    expect(need.activations / 1e9).toBeGreaterThan(2); // measured: 3.7 GB peak RSS at batch 8 × 512 on wasm
    expect(need.activations / 1e9).toBeLessThan(4);
    expect(() =>
      checkTrainingFits(stories, { batchSize: 8, seqLen: 512 }, 'm', { bytes: 1e9, where: 'this machine' }),
    ).toThrow(
      /^m: training needs about 2\.\d GB \(4\.2 MB for weights, gradients and AdamW moments, 2\.\d GB of activations for 8 × 512 tokens\) but this machine has 1\.0 GB$/,
    );
  });

  it('formats bytes in decimal units', () => {
    expect([999, 1500, 2.5e9, 3.2e13].map(formatBytes)).toEqual(['999 B', '1.5 kB', '2.5 GB', '32 TB']);
  });
});
