import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertModel, disposeModel, type LoadedModel } from '../src/index.js';
import { exportGguf, loadModel } from '../src/node/index.js';
import { ggufPath, hfPath } from './stories260k.js';
import { maxAbs, maxAbsDiff, promptLogits as logits } from './logits.js';

const dir = mkdtempSync(join(tmpdir(), 'recur-gguf-'));
const text = 'Once upon a time, a little girl named Lily found a shiny red ball. "Wow!" she said. 🙂';

describe('GGUF written by Recur', () => {
  let hf: LoadedModel;
  beforeAll(async () => {
    await initBackend();
    hf = await loadModel(hfPath);
  });
  afterAll(() => disposeModel(hf));

  it.each([
    ['the GGUF original', ggufPath],
    ['the Hugging Face folder', hfPath],
  ])('from %s loads back with identical logits and tokenizer', async (_, path) => {
    const source = await loadModel(path);
    const out = join(dir, `${path === ggufPath ? 'from-gguf' : 'from-hf'}.gguf`);
    await exportGguf(source, out);
    const back = await loadModel(out);
    expect(back.source.format).toBe('gguf');
    expect(maxAbsDiff(logits(back), logits(source))).toBe(0);
    expect(back.tokenizer.encode(text)).toEqual(source.tokenizer.encode(text));
    expect(back.tokenizer.decode(back.tokenizer.encode(text))).toBe(
      source.tokenizer.decode(source.tokenizer.encode(text)),
    );
    disposeModel(back);
    disposeModel(source);
  });

  it('F16 halves the matrices and stays close', async () => {
    const out = join(dir, 'f16.gguf');
    const f32 = await exportGguf(hf, join(dir, 'f32.gguf'));
    const f16 = await exportGguf(hf, out, { dtype: 'F16' });
    expect(f16.bytes).toBeLessThan(0.6 * f32.bytes);
    const back = await loadModel(out);
    expect(maxAbsDiff(logits(back), logits(hf))).toBeLessThan(0.05);
    disposeModel(back);
  });

  it('a relaxed recursive model is unrolled with its LoRA merged', async () => {
    const converted = await convertModel(hf, {
      strategy: 'middle-cycle',
      loops: 2,
      init: 'average',
      ranks: { attention: 4, mlp: 4 },
      loraInit: 'svd',
      norms: 'per-loop',
    });
    const out = join(dir, 'rrt.gguf');
    const result = await exportGguf(converted, out);
    expect(result.numLayers).toBe(converted.decoder.order.length);
    const back = await loadModel(out);
    const expected = logits(converted);
    const scale = maxAbs(expected);
    expect(maxAbsDiff(logits(back), expected)).toBeLessThan(1e-5 * scale);
    disposeModel(back);
    disposeModel(converted);
  });
});
