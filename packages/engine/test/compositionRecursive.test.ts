import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@recur/tensor';
import { convertModel, disposeModel, type LoadedModel } from '../src/index.js';
import { exportModel, loadComposition, loadModel, loadParts, saveModel, trainModel } from '../src/node/index.js';
import { maxAbs, maxAbsDiff, promptLogits as logits } from './logits.js';
import { corpusPath, hfPath } from './stories260k.js';

// A composition over a recursive model: adapters and scales exist per (block position, loop) step,
// over the model's own depth-wise LoRA and per-loop norms; merging still reproduces its logits.

const dir = mkdtempSync(join(tmpdir(), 'recur-compose-rrt-'));
const slice = (name: string, file: string) => {
  const path = join(dir, `${name}.txt`);
  writeFileSync(path, readFileSync(corpusPath(file), 'utf8').slice(0, 8_000));
  return path;
};
const budget = { steps: 2, seqLen: 32, batchSize: 2, evalEvery: 0, finalEvalWindows: 2 } as const;
let recursive: LoadedModel;
const modelDir = join(dir, 'rrt');

beforeAll(async () => {
  await initBackend();
  const source = await loadModel(hfPath);
  const converted = await convertModel(source, {
    strategy: 'cycle',
    loops: 2,
    init: 'average',
    ranks: { attention: 4, mlp: 4 },
    loraInit: 'svd',
    norms: 'per-loop',
    loraScale: 1,
  });
  await saveModel(converted, modelDir);
  disposeModel(converted);
  disposeModel(source);
  recursive = await loadModel(modelDir);
}, 300_000);

afterAll(() => {
  disposeModel(recursive);
  rmSync(dir, { recursive: true, force: true });
});

describe('composition on a converted (recursive) model', () => {
  it('ScaLearn per (position, loop) step trains, loads and merges into the same logits', async () => {
    const adapters: string[] = [];
    for (const [name, file] of [
      ['stories', 'tinystories_val/tinystories_val.txt'],
      ['shakespeare', 'tinyshakespeare/input.txt'],
    ] as const) {
      const run = await trainModel({
        ...budget,
        model: recursive,
        textFile: slice(name, file),
        out: join(dir, name),
        trainable: 'lora',
        adapter: { rank: 2 },
        schedule: { kind: 'constant', lr: 0.02 },
      });
      adapters.push(run.adapterDir!);
    }
    const steps = recursive.decoder.config.layerOrder?.length ?? recursive.decoder.config.numLayers;
    const result = await trainModel({
      ...budget,
      model: recursive,
      textFile: slice('stories2', 'tinystories_val/tinystories_val.txt'),
      out: join(dir, 'mix'),
      trainable: 'lora',
      composition: {
        spec: { method: 'scalearn-uniform', shareLayers: false },
        parts: await loadParts(recursive, adapters),
      },
      schedule: { kind: 'constant', lr: 0.05 },
    });
    expect(steps).toBeGreaterThan(recursive.decoder.config.numLayers); // loops really repeat stored layers
    expect(result.trainedParameters).toBe(2 * steps); // one scalar per adapter and executed step
    const composed = await loadComposition(await loadModel(modelDir), result.compositionDir!);
    const expected = logits(composed);
    expect(maxAbsDiff(expected, logits(recursive))).toBeGreaterThan(1e-4);
    const merged = join(dir, 'merged');
    await exportModel(composed, merged, { lora: 'merge' });
    const dense = await loadModel(merged);
    expect(maxAbsDiff(logits(dense), expected)).toBeLessThan(1e-5 * Math.max(1, maxAbs(expected)));
    disposeModel(dense);
    disposeModel(composed);
  }, 400_000);
});
