import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import {
  disposeModel,
  evaluatePerplexity,
  fastDecoderFor,
  type CompositionSpec,
  type LoadedModel,
} from '../src/index.js';
import {
  exportModel,
  loadComposition,
  loadModel,
  loadParts,
  readCompositionRecord,
  trainModel,
  type TrainRunOptions,
} from '../src/node/index.js';
import { maxAbs, maxAbsDiff, promptLogits as logits } from './logits.js';
import { corpusPath, hfPath } from './stories260k.js';

// On stories260K: two tiny adapters trained a few steps on different corpora, then compositions of
// them trained on a third (only coefficients change), saved, loaded, folded and merged.

const dir = mkdtempSync(join(tmpdir(), 'recur-compose-'));
const slice = (name: string, file: string) => {
  const path = join(dir, `${name}.txt`);
  // WikiText has CRLF lines and no blank ones: each line becomes a document
  writeFileSync(path, readFileSync(corpusPath(file), 'utf8').slice(0, 10_000).replace(/\r\n/g, '\n\n'));
  return path;
};
const budget = { steps: 3, seqLen: 32, batchSize: 2, evalEvery: 0, finalEvalWindows: 4 } as const;
const schedule: TrainRunOptions['schedule'] = { kind: 'constant', lr: 0.02 };

let base: LoadedModel;
let adapters: string[];

beforeAll(async () => {
  await initBackend();
  base = await loadModel(hfPath);
  adapters = [];
  for (const [name, file] of [
    ['stories', 'tinystories_val/tinystories_val.txt'],
    ['shakespeare', 'tinyshakespeare/input.txt'],
  ] as const) {
    const result = await trainModel({
      ...budget,
      model: base,
      textFile: slice(name, file),
      out: join(dir, name),
      trainable: 'lora',
      adapter: { rank: 2 },
      schedule,
    });
    adapters.push(result.adapterDir!);
  }
}, 300_000);

afterAll(() => {
  disposeModel(base);
  rmSync(dir, { recursive: true, force: true });
});

async function trainComposition(spec: CompositionSpec, name: string, steps = 4) {
  const parts = await loadParts(base, adapters);
  return trainModel({
    ...budget,
    steps,
    model: base,
    textFile: slice('wiki', 'wikitext-2-raw/wiki.test.raw'),
    out: join(dir, name),
    trainable: 'lora',
    composition: { spec, parts },
    schedule: { kind: 'constant', lr: 0.05 },
  });
}

describe('adapter composition on stories260K', () => {
  it('ScaLearn trains only its coefficients, lowers the loss, and round-trips through its folder', async () => {
    const result = await trainComposition({ method: 'scalearn', shareLayers: false }, 'scalearn');
    // every projection of 5 layers, one output-sized vector per adapter: q 64, k 32, v 32, o 64, gate 172, up 172, down 64
    expect(result.trainedParameters).toBe(2 * 5 * (64 + 32 + 32 + 64 + 172 + 172 + 64));
    expect(result.heldOut.after.meanNll).toBeLessThan(result.heldOut.before!.meanNll);
    const record = await readCompositionRecord(result.compositionDir!);
    expect(record.parts.map((p) => p.path)).toEqual(adapters);
    expect(record.base.fingerprint).toMatch(/^sha256:/);
    const start = tf.memory().numTensors;
    const composed = await loadComposition(await loadModel(hfPath), result.compositionDir!);
    expect(composed.composition).toMatchObject({ method: 'scalearn' });
    expect(maxAbsDiff(logits(composed), logits(base))).toBeGreaterThan(1e-3); // the composition matters
    // merge equals unmerged: the folded LoRA written into dense weights
    const merged = join(dir, 'merged');
    await exportModel(composed, merged, { lora: 'merge' });
    const dense = await loadModel(merged);
    const expected = logits(composed);
    expect(maxAbsDiff(logits(dense), expected)).toBeLessThan(1e-5 * Math.max(1, maxAbs(expected)));
    disposeModel(dense);
    disposeModel(composed);
    expect(tf.memory().numTensors).toBe(start);
  }, 300_000);

  it('the folded ScaLearnUniform++ composition (2 scalars) runs on the fast path with the same loss as tfjs', async () => {
    const result = await trainComposition({ method: 'scalearn-uniform', shareLayers: true }, 'uniform', 2);
    expect(result.trainedParameters).toBe(2); // ScaLearnUniform++: one scalar per adapter
    const composed = await loadComposition(await loadModel(hfPath), result.compositionDir!);
    expect((await fastDecoderFor(composed)).reason).toBeUndefined();
    const text = readFileSync(slice('probe', 'tinyshakespeare/input.txt'), 'utf8').slice(0, 2_000);
    const fast = await evaluatePerplexity(composed, text, { window: 64 });
    const tfjs = await evaluatePerplexity(composed, text, { window: 64, fast: false });
    expect([fast.path, tfjs.path]).toEqual(['fast', 'tfjs']);
    expect(Math.abs(fast.meanNll - tfjs.meanNll)).toBeLessThan(1e-4);
    disposeModel(composed);
  }, 300_000);

  it('gated fusion trains, loads on the tfjs decoder only, and refuses export', async () => {
    const result = await trainComposition({ method: 'gated', shareLayers: false, gate: 'softmax' }, 'gated', 2);
    // a gate [2, in] + bias [2] per projection and layer: in = 64 except down (172)
    expect(result.trainedParameters).toBe(5 * (6 * (2 * 64 + 2) + (2 * 172 + 2)));
    const start = tf.memory().numTensors;
    const composed = await loadComposition(await loadModel(hfPath), result.compositionDir!);
    expect((await fastDecoderFor(composed)).reason).toMatch(/gated/);
    expect(maxAbsDiff(logits(composed), logits(base))).toBeGreaterThan(1e-4);
    await expect(exportModel(composed, join(dir, 'gated-export'), { lora: 'merge' })).rejects.toThrow(
      /gated composition/,
    );
    disposeModel(composed);
    expect(tf.memory().numTensors).toBe(start);
  }, 300_000);

  it('a composition run stops and resumes from its checkpoint (the parts reloaded)', async () => {
    const spec: CompositionSpec = { method: 'scalearn-uniform', shareLayers: false };
    const out = join(dir, 'resumed');
    const common = {
      ...budget,
      steps: 3,
      model: base,
      textFile: slice('wiki', 'wikitext-2-raw/wiki.test.raw'),
      out,
      trainable: 'lora',
      schedule,
    } as const;
    const first = await trainModel({
      ...common,
      stopAt: 1,
      composition: { spec, parts: await loadParts(base, adapters) },
    });
    expect(first.steps).toBe(1);
    const resumed = await trainModel({
      ...common,
      resume: true,
      composition: { spec, parts: await loadParts(base, adapters) },
    });
    expect(resumed).toMatchObject({ steps: 3, resumedFrom: 1, trainedParameters: 2 * 5 });
  }, 300_000);

  it('refuses an adapter for another base and one without a fingerprint, in one line', async () => {
    const other = join(dir, 'other');
    cpSync(adapters[1]!, other, { recursive: true });
    const configFile = join(other, 'adapter_config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, JSON.stringify({ ...config, recur_base_fingerprint: `sha256:${'0'.repeat(64)}` }));
    await expect(loadParts(base, [adapters[0]!, other])).rejects.toThrow(/another base is refused/);
    writeFileSync(configFile, JSON.stringify({ ...config, recur_base_fingerprint: undefined }));
    await expect(loadParts(base, [adapters[0]!, other])).rejects.toThrow(/records no recur_base_fingerprint/);
    await expect(loadParts(base, [adapters[0]!, adapters[0]!])).rejects.toThrow(/named twice/);
  });
});
