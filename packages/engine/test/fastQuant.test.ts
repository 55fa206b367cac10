import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastDecoder } from '@recur/graph';
import { initBackend, tf } from '@recur/tensor';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Checkpoint } from '@recur/checkpoint';
import { loadCheckpoint } from '@recur/checkpoint/node';
import { argmax, buildModel, disposeModel, fastDecoderFor, type LoadedModel } from '../src/index.js';
import { exportGguf, loadModel } from '../src/node/index.js';
import { maxAbs, maxAbsDiff, ref } from './logits.js';
import { hfPath } from './stories260k.js';

// Issue 16 §4: Q8_0 / Q4_0 matrices run natively on the fast path (int8/int4 blocks in the kernels)
// against the same file dequantized at load (its F32 twin: nativeQuant false).
const dir = mkdtempSync(join(tmpdir(), 'recur-fast-quant-'));

async function fastOf(model: LoadedModel): Promise<FastDecoder> {
  const choice = await fastDecoderFor(model);
  if (!choice.fast) throw new Error(`no fast path: ${choice.reason}`);
  return choice.fast;
}

/** Greedy ids of `steps` single-token decode steps after the prompt (the GEMV path at T = 1). */
function greedy(
  fast: FastDecoder,
  prompt: readonly number[],
  steps: number,
): { ids: number[]; logits: Float32Array[] } {
  const cache = fast.newCache(prompt.length + steps);
  try {
    let last = fast.forward(prompt, { cache, lastOnly: true });
    const ids: number[] = [];
    const logits: Float32Array[] = [];
    for (let i = 0; i < steps; i++) {
      ids.push(argmax(last));
      last = fast.forward([ids[i]!], { cache, lastOnly: true });
      logits.push(last);
    }
    return { ids, logits };
  } finally {
    cache.dispose();
  }
}

describe('stories260K quantized, natively on the fast path', () => {
  let hf: LoadedModel;
  let baseline = 0;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 2 });
    baseline = tf.memory().numTensors;
    hf = await loadModel(hfPath);
  });
  afterAll(() => {
    disposeModel(hf);
    expect(tf.memory().numTensors).toBe(baseline);
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The prompt's 16 rows run the integer tiled GEMM (linearQ8Tiled / linearQ4Tiled) except the LM
   * head, which like every decode step runs the int8 GEMV; both round the activations to int8 per
   * 32-block (|error| ≤ d/2 each) as llama.cpp does. Measured max |Δlogit| over max |logit|
   * (2 threads): prompt 0.0081 (q8_0) / 0.0106 (q4_0), decode steps 0.0181 / 0.0150 (with the panel
   * path's f32 prompt it was 0.0071 / 0.0095 and 0.0155 / 0.0156); the bounds are about twice that.
   * Greedy tokens are equal.
   */
  it.each([
    ['q8_0', 'Q8_0', 0.015, 0.03],
    ['q4_0', 'Q4_0', 0.02, 0.03],
  ] as const)(
    '%s: logits near the F32 twin, greedy equal, memory released',
    async (_, dtype, promptBound, stepBound) => {
      const path = join(dir, `stories-${dtype}.gguf`);
      await exportGguf(hf, path, { dtype });
      const native = await loadModel(path);
      const twin = await loadModel(path, { nativeQuant: false });
      expect(twin.quantized).toBeUndefined();
      // the embedding (tied head) and q, k, v, o, gate, up of 5 layers; ffn_down's rows of 172 stay F32
      expect(native.quantized?.size).toBe(31);
      let packed = 0;
      let f32 = 0;
      for (const p of native.quantized!.values()) {
        packed += p.quants.byteLength + p.scales.byteLength;
        f32 += p.shape[0] * p.shape[1] * 4;
      }
      expect(packed / f32).toBeCloseTo(dtype === 'Q8_0' ? 1.125 / 4 : 0.625 / 4, 6);
      const [a, b] = [await fastOf(native), await fastOf(twin)];
      expect(native.quantized?.size).toBe(0); // handed to the fast decoder's heap
      const prompt = ref.ids;
      const [la, lb] = [a.forward(prompt), b.forward(prompt)];
      expect(maxAbs(lb)).toBeGreaterThan(5);
      expect(maxAbsDiff(la, lb)).toBeLessThanOrEqual(promptBound * maxAbs(lb));
      const [ga, gb] = [greedy(a, prompt, 24), greedy(b, prompt, 24)];
      expect(ga.ids).toEqual(gb.ids);
      for (let i = 0; i < ga.logits.length; i++)
        expect(maxAbsDiff(ga.logits[i]!, gb.logits[i]!)).toBeLessThanOrEqual(stepBound * maxAbs(gb.logits[i]!));
      disposeModel(native);
      disposeModel(twin);
    },
  );

  it('a quantized block that fails to read leaves no tensor behind', async () => {
    const path = join(dir, 'stories-bad.gguf');
    await exportGguf(hf, path, { dtype: 'Q8_0' });
    const checkpoint = await loadCheckpoint(path);
    const before = tf.memory().numTensors;
    try {
      const failing = Object.assign(Object.create(checkpoint) as Checkpoint, {
        readQuantized: () => Promise.reject(new Error('truncated block')),
      });
      await expect(buildModel(failing)).rejects.toThrow('truncated block');
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await checkpoint.close();
    }
  });
});
