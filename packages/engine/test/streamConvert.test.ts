import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import { convertModel, disposeModel, type ConvertOptions } from '../src/index.js';
import { convertToFolder, loadModel, saveConvertedModel } from '../src/node/index.js';
import { ggufPath, hfPath } from './stories260k.js';

const defaults = {
  loops: 2,
  strategy: 'middle-cycle',
  depthFit: 'floor',
  init: 'average',
  ranks: { attention: 8, mlp: 8 },
  loraInit: 'svd',
  loraScale: 1,
  norms: 'tied',
  seed: 0,
} as const satisfies ConvertOptions;

/**
 * model.safetensors of `recur convert` on stories260K as the in-memory converter wrote it before
 * conversion was streamed (SHA-256 of the CLI's output with these settings).
 */
const cases: readonly { name: string; source: string; options: ConvertOptions; sha256: string }[] = [
  {
    name: 'hf, middle-cycle ×2, average, SVD rank 8',
    source: hfPath,
    options: defaults,
    sha256: 'e70b252b194e383b41125f86610d2d30682ec39f519591228f31f4ca0d28b929',
  },
  {
    name: 'gguf, cycle ×2, stepwise, attention rank 4 only, per-loop norms',
    source: ggufPath,
    options: { ...defaults, strategy: 'cycle', init: 'stepwise', ranks: { attention: 4, mlp: 0 }, norms: 'per-loop' },
    sha256: '4cbf23178f0247adf0ff78f896f12bdf119f7fd529e4cacd636dfc69d54e44bf',
  },
  {
    name: 'hf, sequence ×3 (round), random init, zero-init LoRA, seed 7',
    source: hfPath,
    options: {
      ...defaults,
      loops: 3,
      strategy: 'sequence',
      depthFit: 'round',
      init: 'random',
      loraInit: 'zero',
      seed: 7,
    },
    sha256: '9b4dcaad62d608bbabbcf2920da2b058be608ccfc992fe441a5b7c655ca91b80',
  },
];

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

describe('streamed convert', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend();
    dir = await mkdtemp(join(tmpdir(), 'recur-stream-convert-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each(cases)(
    'writes the same folder as the in-memory converter: $name',
    async ({ source, options, sha256: want }) => {
      const streamed = join(dir, 'streamed');
      const summary = await convertToFolder(source, streamed, { ...options, force: true });
      expect(await sha256(join(streamed, 'model.safetensors'))).toBe(want);
      const original = await loadModel(source);
      const model = await convertModel(original, options);
      const memory = join(dir, 'memory');
      await saveConvertedModel(model, memory, { force: true });
      for (const file of await readdir(memory)) {
        expect(Buffer.compare(await readFile(join(streamed, file)), await readFile(join(memory, file))), file).toBe(0);
      }
      expect(summary.parameters).toEqual(model.parameters);
      expect(summary.loraEnergy).toEqual(model.loraEnergy);
      expect(summary.bytes).toBe((await readFile(join(memory, 'model.safetensors'))).byteLength);
      disposeModel(model);
      disposeModel(original);
    },
  );

  it('refuses a converted model as the source, and leaves no output behind', async () => {
    const converted = join(dir, 'converted');
    await convertToFolder(hfPath, converted, { ...defaults, force: true });
    const out = join(dir, 'again');
    await expect(convertToFolder(converted, out, defaults)).rejects.toThrow(/already recursive/);
    expect((await readdir(dir)).filter((name) => name.includes('again'))).toEqual([]);
  });
});
