import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGguf, type GgufWriteDtype, type ModelConfig } from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import { randomDecoder } from '@recur/graph';
import { initBackend, tf } from '@recur/tensor';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disposeModel, generate, type LoadedModel } from '../src/index.js';
import { exportGguf, loadModel, writeGgufModel } from '../src/node/index.js';
import { hfPath, readReference, type GreedyReference } from './stories260k.js';
import { maxAbs, maxAbsDiff, promptLogits as logits } from './logits.js';

// Issue 16 §4: quantized GGUF files written by Recur, read back through the normal loader.
const dir = mkdtempSync(join(tmpdir(), 'recur-gguf-quant-'));
const greedy = readReference<GreedyReference>('greedy_bos_200.json');
const greedyOptions = { prompt: '', promptIds: [1], maxNewTokens: 200, temperature: 0, stopAtEos: false };

async function tensorTypes(path: string): Promise<Map<string, string>> {
  const source = await openFileSource(path);
  try {
    return new Map((await readGguf(source)).ggufTensors.map((t) => [t.name, t.dtype]));
  } finally {
    await source.close?.();
  }
}

/** The file's tensors dequantized and written back as F32: the model the loader actually runs. */
async function dequantizedTwin(model: LoadedModel, name: string): Promise<LoadedModel> {
  const path = join(dir, `${name}-dequantized.gguf`);
  await exportGguf(model, path, { dtype: 'F32' });
  return loadModel(path);
}

describe('stories260K exported quantized', () => {
  let hf: LoadedModel;
  beforeAll(async () => {
    await initBackend();
    hf = await loadModel(hfPath);
  });
  afterAll(() => disposeModel(hf));

  /**
   * Measured (wasm backend, reference prompt of 27 tokens, logits up to |20.5|): Q8_0 max |Δlogit|
   * 0.214, greedy equal to the F32 model's for the first 114 generated tokens; Q4_0 4.51, first 27.
   * The bounds are those with a small margin; the token counts are pinned (deterministic).
   */
  it.each([
    ['Q8_0', 0.25, 114],
    ['Q4_0', 5, 27],
  ] as const)(
    '%s: max |Δlogit| ≤ %f against F32; greedy tokens equal up to the first divergence at %i',
    async (dtype, bound, divergesAt) => {
      const path = join(dir, `stories-${dtype}.gguf`);
      const written = await exportGguf(hf, path, { dtype });
      // Norms stay F32 (11), and so do the 5 ffn_down matrices: their rows of 172 are not whole 32-blocks.
      expect(written.tensorTypes).toEqual({ [dtype]: 31, F32: 16 });
      const types = await tensorTypes(path);
      expect([
        types.get('token_embd.weight'),
        types.get('blk.0.attn_q.weight'),
        types.get('blk.0.ffn_down.weight'),
        types.get('output_norm.weight'),
      ]).toEqual([dtype, dtype, 'F32', 'F32']);
      const quantized = await loadModel(path);
      const expected = logits(hf);
      expect(maxAbsDiff(logits(quantized), expected)).toBeLessThanOrEqual(bound);
      const twin = await dequantizedTwin(quantized, dtype);
      expect(maxAbsDiff(logits(quantized), logits(twin))).toBe(0); // dequantized at load: the twin is the same model
      const ids = (await generate(quantized, greedyOptions)).ids;
      expect([1, ...ids].slice(0, divergesAt + 1)).toEqual(greedy.ids.slice(0, divergesAt + 1));
      expect(ids[divergesAt]).not.toBe(greedy.ids[divergesAt + 1]);
      disposeModel(twin);
      disposeModel(quantized);
    },
  );
});

/** Rows of 256 so that every matrix takes K-quant super-blocks (stories260K's 64 cannot). */
const wideConfig: ModelConfig = {
  architecture: 'llama',
  vocabSize: 512,
  hiddenSize: 256,
  intermediateSize: 512,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 64,
  maxPositionEmbeddings: 128,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: false,
  attentionBias: false,
  bosTokenId: 1,
  eosTokenId: 2,
};

describe('a random model written in every quantized type loads and generates', () => {
  let arrays: Map<string, Float32Array>;
  let f32: LoadedModel;
  beforeAll(async () => {
    await initBackend();
    const decoder = randomDecoder(wideConfig, { seed: 3, std: 0.1 });
    arrays = new Map([...decoder.weights].map(([key, tensor]) => [key, tensor.dataSync() as Float32Array]));
    decoder.dispose();
    await writeGgufModel({ config: wideConfig, arrays }, join(dir, 'wide-F32.gguf'), {
      dtype: 'F32',
      tokenizer: 'placeholder',
    });
    f32 = await loadModel(join(dir, 'wide-F32.gguf'));
  });
  afterAll(() => disposeModel(f32));

  /**
   * Max |Δlogit| against the F32 model on the reference prompt, logits up to |6.15| (a random model
   * with std 0.1 amplifies weight error): measured Q8_0 0.223, Q6_K 0.932, Q5_K 1.76, Q4_K 2.99,
   * Q4_0 3.29 (our plain K-quant encoders, not llama.cpp's search); bounds ≈ 1.3× those.
   */
  it.each([
    ['Q8_0', 0.3],
    ['Q6_K', 1.2],
    ['Q5_K', 2.3],
    ['Q4_K', 3.9],
    ['Q4_0', 4.3],
  ] as const)(
    '%s: the dequantized twin exactly, F32 within %f, 6 greedy tokens',
    async (dtype: GgufWriteDtype, bound: number) => {
      const path = join(dir, `wide-${dtype}.gguf`);
      const written = await writeGgufModel({ config: wideConfig, arrays }, path, { dtype, tokenizer: 'placeholder' });
      expect(written.tensorTypes).toEqual({ [dtype]: 16, F32: 5 }); // 7 per layer + embedding + LM head; 5 norms
      const tensors = tf.memory().numTensors;
      const model = await loadModel(path);
      const twin = await dequantizedTwin(model, `wide-${dtype}`);
      expect(maxAbsDiff(logits(model), logits(twin))).toBe(0);
      const expected = logits(f32);
      expect(maxAbs(expected)).toBeCloseTo(6.15, 2);
      expect(maxAbsDiff(logits(model), expected)).toBeLessThanOrEqual(bound);
      const run = await generate(model, {
        prompt: '',
        promptIds: [1, 300, 301],
        maxNewTokens: 6,
        temperature: 0,
        stopAtEos: false,
      });
      expect(run.ids).toHaveLength(6);
      disposeModel(twin);
      disposeModel(model);
      expect(tf.memory().numTensors).toBe(tensors);
    },
  );
});
