import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertModel, disposeModel, type LoadedModel } from '../src/index.js';
import { loadModel, saveConvertedModel } from '../src/node/index.js';
import { ggufPath, hfPath } from './stories260k.js';
import { maxAbsDiff, promptLogits as logits, ref } from './logits.js';

// stories260K has L = 5: loops × K = 5 for cycle/sequence at N = 5 (K = 1) and N = 1 (K = 5),
// and for the middle strategies at N = 3 (K = 1) and N = 1 (K = 3).
const exactCases = [
  ['cycle', 5],
  ['sequence', 5],
  ['middle-cycle', 3],
  ['middle-sequence', 3],
  ['cycle', 1],
  ['sequence', 1],
  ['middle-cycle', 1],
  ['middle-sequence', 1],
] as const;

describe('Relaxed Recursive conversion of stories260K', () => {
  let source: LoadedModel;
  let expected: Float32Array;
  beforeAll(async () => {
    await initBackend();
    source = await loadModel(hfPath);
    expected = logits(source);
  });
  afterAll(() => source.decoder.dispose());

  it.each(exactCases)(
    'full-rank SVD LoRA with per-loop norms reproduces the source: %s, N = %i',
    async (strategy, loops) => {
      for (const init of ['stepwise', 'average', 'lower', 'upper'] as const) {
        const before = tf.memory().numTensors;
        const model = await convertModel(source, {
          strategy,
          loops,
          init,
          ranks: { attention: 'full', mlp: 'full' },
          loraInit: 'svd',
          norms: 'per-loop',
        });
        expect(maxAbsDiff(logits(model), expected)).toBeLessThan(1e-4);
        model.decoder.dispose();
        model.lora.dispose();
        expect(tf.memory().numTensors).toBe(before);
      }
    },
  );

  it('without adapters a tied model differs from the source, and rank-0 zero-init LoRA changes nothing', async () => {
    const opts = { strategy: 'cycle', loops: 5, init: 'average', norms: 'tied', seed: 1 } as const;
    const plain = await convertModel(source, { ...opts, ranks: { attention: 0, mlp: 0 }, loraInit: 'svd' });
    const zero = await convertModel(source, { ...opts, ranks: { attention: 4, mlp: 4 }, loraInit: 'zero' });
    const a = logits(plain);
    expect(maxAbsDiff(a, expected)).toBeGreaterThan(0.1);
    expect(maxAbsDiff(logits(zero), a)).toBeLessThan(1e-6);
    expect(plain.parameters.shared).toBe(32768 + 64 + 45440); // one shared layer
    expect(plain.parameters.lora).toBe(0);
    for (const m of [plain, zero]) {
      m.decoder.dispose();
      m.lora.dispose();
    }
  });

  it.each([
    ['hf', hfPath],
    ['gguf', ggufPath],
  ])('saves a converted %s model once per shared layer and reloads it with identical logits', async (_kind, path) => {
    const original = await loadModel(path);
    const model = await convertModel(original, {
      strategy: 'cycle',
      loops: 5,
      init: 'average',
      ranks: { attention: 4, mlp: 8 },
      loraInit: 'svd',
      norms: 'tied',
    });
    const dir = join(mkdtempSync(join(tmpdir(), 'recur-convert-')), 'out');
    await saveConvertedModel(model, dir);
    const before = tf.memory().numTensors;
    const reloaded = await loadModel(dir);
    expect(reloaded.recur?.strategy).toBe('cycle');
    expect(maxAbsDiff(logits(reloaded), logits(model))).toBe(0);
    expect(reloaded.tokenizer.encode(ref.prompt, { addBos: true })).toEqual(ref.ids);
    const twoLoops = await loadModel(dir, { loops: 2 });
    expect(twoLoops.decoder.order).toEqual([0, 0]);
    expect(maxAbsDiff(logits(twoLoops), logits(model))).toBeGreaterThan(1e-3);
    disposeModel(twoLoops);
    await expect(loadModel(path, { loops: 2 })).rejects.toThrow(/converted/);
    disposeModel(reloaded);
    expect(tf.memory().numTensors).toBe(before);
    const size = statSync(join(dir, 'model.safetensors')).size;
    const loraBytes = model.parameters.lora * 4;
    expect(size).toBeLessThan((model.parameters.shared + 1000) * 4 + loraBytes + 20_000); // shared layer stored once
    expect(model.parameters.shared).toBeLessThan(0.35 * model.parameters.source);
    disposeModel(model);
    disposeModel(original);
  });

  it('reports LoRA-initialisation progress once per shared step and module', async () => {
    const original = await loadModel(hfPath);
    const seen: [number, number][] = [];
    const model = await convertModel(original, {
      strategy: 'middle-cycle',
      loops: 3,
      init: 'stepwise',
      ranks: { attention: 2, mlp: 2 },
      loraInit: 'svd',
      norms: 'tied',
      onProgress: (done, total) => seen.push([done, total]),
    });
    expect(seen.at(-1)).toEqual([3 * 7, 3 * 7]); // 3 shared steps × 7 modules
    expect(seen.map(([d]) => d)).toEqual([...Array(3 * 7 + 1).keys()]);
    disposeModel(model);
    disposeModel(original);
  });
});
