import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '@recur/checkpoint/node';
import { Decoder, decoderWeightSpecs } from '@recur/graph';
import { initBackend, tf } from '@recur/tensor';
import { disposeFast, disposeModel, tokenRunner, type LoadedModel } from '../src/index.js';
import { convertToFolder, loadModel } from '../src/node/index.js';
import { ggufPath, hfPath } from './stories260k.js';
import { promptLogits, ref } from './logits.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What load did before it streamed: every array read first, then the decoder built from the full set. */
async function eagerDecoder(path: string, config: LoadedModel['decoder']['config']): Promise<Decoder> {
  const checkpoint = await loadCheckpoint(path);
  try {
    const arrays = new Map<string, Float32Array>();
    for (const spec of decoderWeightSpecs(config)) arrays.set(spec.name, await checkpoint.read(spec.name));
    return Decoder.fromArrays(config, arrays);
  } finally {
    await checkpoint.close();
  }
}

/** Next-token logits after each prompt token, through the model's token runner. */
async function runnerLogits(model: LoadedModel, fast: boolean): Promise<Float32Array[]> {
  const runner = await tokenRunner(model, fast ? undefined : false, ref.ids.length + 1);
  try {
    expect(runner.path).toBe(fast ? 'fast' : 'tfjs');
    const out: Float32Array[] = [];
    for (const id of ref.ids) out.push(await runner.next([id]));
    return out;
  } finally {
    runner.dispose();
  }
}

describe('load, tensor by tensor', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend();
    dir = await mkdtemp(join(tmpdir(), 'recur-lazy-load-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['GGUF (llama2.c export: LM head stored beside the embedding)', ggufPath],
    ['HF folder', hfPath],
  ])('gives the logits of the eager load, bit for bit: %s', async (_name, path) => {
    const before = tf.memory().numTensors;
    const model = await loadModel(path);
    const eager = await eagerDecoder(path, model.decoder.config);
    expect([...model.decoder.weights.keys()]).toEqual([...eager.weights.keys()]);
    const eagerOut = eager.forward(ref.ids);
    expect(Buffer.compare(Buffer.from(promptLogits(model).buffer), Buffer.from(eagerOut.dataSync().buffer))).toBe(0);
    eagerOut.dispose();
    const eagerModel: LoadedModel = { ...model, decoder: eager };
    for (const fast of [true, false]) {
      const [lazy, full] = [await runnerLogits(model, fast), await runnerLogits(eagerModel, fast)];
      lazy.forEach((row, i) => expect(Buffer.compare(Buffer.from(row.buffer), Buffer.from(full[i]!.buffer))).toBe(0));
    }
    disposeFast(eagerModel);
    eager.dispose();
    disposeModel(model);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('loads a converted model (LoRA tensors included) with the same logits as an eager decoder', async () => {
    const out = join(dir, 'converted');
    await convertToFolder(hfPath, out, {
      loops: 2,
      strategy: 'cycle',
      init: 'average',
      ranks: { attention: 4, mlp: 4 },
      loraInit: 'svd',
      norms: 'per-loop',
    });
    const before = tf.memory().numTensors;
    const model = await loadModel(out);
    expect(model.lora?.tensors.size).toBeGreaterThan(0);
    const eager = await eagerDecoder(out, model.decoder.config);
    const withLora = new Decoder(eager.config, eager.weights, { adapter: model.lora! });
    const a = promptLogits(model);
    const b = withLora.forward(ref.ids);
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.dataSync().buffer))).toBe(0);
    b.dispose();
    eager.dispose();
    disposeModel(model);
    expect(tf.memory().numTensors).toBe(before);
  });
});
