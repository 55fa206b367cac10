import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { disposeModel, domainKey, endKeys, type ConvertOptions, type LoadedModel } from '../src/index.js';
import { addDomainEnds, convertToFolder, loadModel, trainModel } from '../src/node/index.js';
import { corpusPath, hfPath } from './stories260k.js';

const convert = {
  loops: 3,
  strategy: 'middle-cycle',
  depthFit: 'floor',
  init: 'stepwise',
  ranks: { attention: 4, mlp: 4 },
  loraInit: 'svd',
  loraScale: 1,
  norms: 'tied',
  seed: 0,
} as const satisfies ConvertOptions;
const ids = [1, 403, 280, 263, 116, 289, 365, 151, 471];
let dir: string;
let plain: string;
let ends: string;

beforeAll(async () => {
  await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'recur-ends-'));
  plain = join(dir, 'plain');
  ends = join(dir, 'ends');
  await convertToFolder(hfPath, plain, convert);
  await convertToFolder(hfPath, ends, convert);
  await addDomainEnds(ends, ['stories', 'verse']);
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function logits(model: LoadedModel): Float32Array {
  return tf.tidy(() => model.decoder.forward(ids).dataSync() as Float32Array);
}

describe('Uni-X per-domain ends', () => {
  it('with identical copies, every domain gives the converted model’s logits; tensors come back to baseline', async () => {
    const baseline = tf.memory().numTensors;
    const source = await loadModel(plain);
    const want = logits(source);
    disposeModel(source);
    for (const domain of [undefined, 'stories', 'verse']) {
      const model = await loadModel(ends, domain === undefined ? {} : { domain });
      expect(model.domain?.active).toBe(domain ?? 'stories');
      expect(model.domain?.section.layers).toEqual([0, 2]);
      expect(logits(model)).toEqual(want);
      disposeModel(model);
    }
    await expect(loadModel(ends, { domain: 'nope' })).rejects.toThrow(/domains are stories, verse/);
    await expect(loadModel(plain, { domain: 'verse' })).rejects.toThrow(/no per-domain ends/);
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it("training one domain changes that domain's ends (and the shared middle), not the other's", async () => {
    const model = await loadModel(ends, { domain: 'verse' });
    const out = join(dir, 'run');
    await trainModel({
      model,
      textFile: corpusPath('tinyshakespeare/input.txt'),
      out,
      steps: 3,
      seqLen: 16,
      batchSize: 2,
      trainable: 'shared+lora',
      schedule: { kind: 'constant', lr: 1e-2 },
      evalEvery: 0,
      saveEvery: 0,
      finalEvalWindows: 2,
      valFraction: 0.01,
    });
    const keys = endKeys(model.decoder.config, model.domain!.section);
    const trainedVerse = await loadModel(join(out, 'model'), { domain: 'verse' });
    const trainedStories = await loadModel(join(out, 'model'), { domain: 'stories' });
    expect(trainedVerse.recur?.ends?.active).toBe('verse');
    expect(logits(trainedVerse)).not.toEqual(logits(trainedStories));
    for (const key of keys) {
      const before = model.domain!.stored.get(domainKey('stories', key))!;
      expect([...(trainedStories.decoder.weights.get(key)!.dataSync() as Float32Array)]).toEqual([...before]);
    }
    const changed = keys.some(
      (key) =>
        tf.tidy(() =>
          tf.max(tf.abs(tf.sub(trainedVerse.decoder.weights.get(key)!, model.decoder.weights.get(key)!))).dataSync(),
        )[0]! > 0,
    );
    expect(changed).toBe(true);
    for (const m of [model, trainedVerse, trainedStories]) disposeModel(m);
  }, 300_000);
});
