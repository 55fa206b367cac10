import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '@recur/checkpoint';
import { loadCheckpoint } from '@recur/checkpoint/node';
import { storiesGguf, storiesHf } from './stories.js';

describe('stories260K: the GGUF and the Hugging Face folder are the same model', () => {
  let hf: Checkpoint;
  let gguf: Checkpoint;
  beforeAll(async () => {
    hf = await loadCheckpoint(storiesHf);
    gguf = await loadCheckpoint(storiesGguf);
  });
  afterAll(async () => {
    await hf?.close();
    await gguf?.close();
  });

  it('opens both formats', () => {
    expect(hf.format).toBe('safetensors');
    expect(gguf.format).toBe('gguf');
    expect(hf.config).toMatchObject({
      architecture: 'llama',
      numLayers: 5,
      hiddenSize: 64,
      numHeads: 8,
      numKvHeads: 4,
      headDim: 8,
      vocabSize: 512,
    });
    expect(hf.tokenizer).not.toBeNull();
    expect(gguf.tokenizer).not.toBeNull();
  });

  it('configs agree, except what the GGUF records differently', () => {
    // The GGUF says context 2048 where config.json says 512, and it stores output.weight
    // (a copy of the embedding), so it reads as untied.
    const { maxPositionEmbeddings: hfCtx, tieWordEmbeddings: hfTied, ...hfRest } = hf.config;
    const { maxPositionEmbeddings: ggufCtx, tieWordEmbeddings: ggufTied, ...ggufRest } = gguf.config;
    expect(ggufRest).toEqual(hfRest);
    expect([hfCtx, ggufCtx]).toEqual([512, 2048]);
    expect([hfTied, ggufTied]).toEqual([true, false]);
  });

  it('every GGUF tensor equals the HF tensor of the same key exactly (renaming + q/k permutation)', async () => {
    const hfNames = new Set(hf.tensors.map((t) => t.name));
    expect(gguf.tensors.length).toBe(hf.tensors.length + 1); // + lm_head.weight
    for (const info of gguf.tensors) {
      const key = info.name === 'lm_head.weight' ? 'model.embed_tokens.weight' : info.name;
      expect(hfNames.has(key), key).toBe(true);
      expect(info.shape).toEqual(hf.tensors.find((t) => t.name === key)!.shape);
      const [a, b] = await Promise.all([gguf.read(info.name), hf.read(key)]);
      expect(a.length).toBe(b.length);
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), info.name).toBe(true);
    }
  });

  it('the permutation matters: q/k rows differ from the raw GGUF order', async () => {
    const { readGguf } = await import('@recur/checkpoint');
    const { openFileSource } = await import('@recur/checkpoint/node');
    const raw = await readGguf(await openFileSource(storiesGguf));
    const stored = await raw.read('blk.0.attn_q.weight');
    const hfQ = await hf.read('model.layers.0.self_attn.q_proj.weight');
    expect(Buffer.from(stored.buffer).equals(Buffer.from(hfQ.buffer))).toBe(false);
    await raw.close();
  });
});
