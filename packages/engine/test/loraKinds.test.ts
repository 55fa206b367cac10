import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loraKindFields, loraKindSpec, type LoraKindSpec } from '@recur/lora';
import { crossEntropy, initBackend, tf } from '@recur/tensor';
import { registerGradients } from '@recur/train';
import {
  convertModel,
  decodeUtf8Prefix,
  disposeModel,
  evaluatePerplexity,
  generate,
  type ConvertOptions,
  type LoadedModel,
} from '../src/index.js';
import { convertToFolder, exportTorch, loadModel, saveModel, trainableModel } from '../src/node/index.js';
import { maxAbs, maxAbsDiff, promptLogits, ref } from './logits.js';
import { hfPath, readReference, sharedDir, type PerplexityReference } from './stories260k.js';

// Issue 17 §3: hypernetwork and scaled per-loop LoRA (Polyhistor, arXiv 2210.03265) on stories260K.
const heldOut = readReference<PerplexityReference>('perplexity.json').results[0]!;
const text = decodeUtf8Prefix(readFileSync(`${sharedDir}${heldOut.file}`), heldOut.bytes_used).slice(0, 4000);
const window = heldOut.window_tokens_including_bos;

const base: ConvertOptions = {
  loops: 5,
  strategy: 'cycle',
  init: 'stepwise',
  ranks: { attention: 4, mlp: 4 },
  loraInit: 'svd',
  norms: 'tied',
};
const kinds: LoraKindSpec[] = [{ kind: 'hyper', hyperDim: 2 }, { kind: 'scaled' }];

describe.each(kinds)('--lora-kind $kind on stories260K', (spec) => {
  let source: LoadedModel;
  let dir: string;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    source = await loadModel(hfPath);
    dir = await mkdtemp(join(tmpdir(), `recur-${spec.kind}-`));
  });
  afterAll(async () => {
    disposeModel(source);
    await rm(dir, { recursive: true, force: true });
  });

  it('converts with fewer LoRA parameters than depth-wise; hyper under --lora-init zero starts at the tied model', async () => {
    const model = await convertModel(source, { ...base, ...loraKindFields(spec) });
    const depthwise = await convertModel(source, base);
    expect(model.parameters.lora).toBe(model.generatedLora!.parameterCount);
    expect(model.parameters.lora).toBeLessThan(depthwise.parameters.lora);
    expect(model.lora.tensors.size).toBe(depthwise.lora.tensors.size); // materialised: one A, B per (loop, module)
    expect(model.recur.loraKind).toBe(spec.kind); // config.json: the kind as a string, hyper's width in recur.hyper
    expect(loraKindSpec(model.recur)).toEqual(spec);
    if (spec.kind === 'hyper') {
      const zero = await convertModel(source, { ...base, ...loraKindFields(spec), loraInit: 'zero' });
      const tied = await convertModel(source, { ...base, ranks: { attention: 0, mlp: 0 } });
      expect(maxAbsDiff(promptLogits(zero), promptLogits(tied))).toBe(0);
      expect(zero.recur.loraInit).toBe('zero');
      disposeModel(tied);
      disposeModel(zero);
    }
    for (const m of [model, depthwise]) disposeModel(m);
  });

  it.runIf(spec.kind === 'hyper')(
    'hyper under --lora-init svd generates the depth-wise SVD LoRA where the steps are independent (middle-cycle × 2)',
    async () => {
      const looping = { ...base, loops: 2, strategy: 'middle-cycle' as const, init: 'average' as const };
      const hyper = await convertModel(source, { ...looping, ...loraKindFields(spec) });
      const depthwise = await convertModel(source, looping);
      expect(hyper.recur.loraInit).toBe('svd');
      expect(maxAbsDiff(promptLogits(hyper), promptLogits(depthwise))).toBeLessThan(1e-3);
      for (const m of [hyper, depthwise]) disposeModel(m);
    },
  );

  it('saves its stored form and reloads the same model: logits, perplexity (fast and tfjs), greedy tokens', async () => {
    const before = tf.memory().numTensors;
    const model = await convertModel(source, { ...base, ...loraKindFields(spec) });
    const out = join(dir, 'saved');
    await saveModel(model, out);
    const loaded = await loadModel(out);
    const names = loaded.tensors.map((t) => t.name);
    expect(names.some((n) => /\.lora_[AB]\.loop\d+\./.test(n))).toBe(false); // no per-loop factors on disk
    expect(names.length).toBe(model.decoder.weights.size + model.generatedLora!.tensors.size);
    expect(loaded.recur?.loraKind).toBe(spec.kind);
    expect(loraKindSpec(loaded.recur!)).toEqual(spec);
    expect(maxAbsDiff(promptLogits(loaded), promptLogits(model))).toBe(0);
    for (const fast of [true, false]) {
      const a = await evaluatePerplexity(model, text, { window, fast });
      const b = await evaluatePerplexity(loaded, text, { window, fast });
      expect(Number.isFinite(a.meanNll)).toBe(true);
      expect(b.meanNll).toBe(a.meanNll);
    }
    const options = { prompt: '', promptIds: [1], maxNewTokens: 20, temperature: 0, stopAtEos: false };
    expect((await generate(loaded, options)).ids).toEqual((await generate(model, options)).ids);
    disposeModel(loaded);
    disposeModel(model);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a folder whose recur.loraKind does not name the LoRA it holds, naming the tensor', async () => {
    const model = await convertModel(source, { ...base, ...loraKindFields(spec) });
    const out = join(dir, 'tampered');
    await saveModel(model, out);
    disposeModel(model);
    const before = tf.memory().numTensors;
    const configFile = join(out, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    const other = spec.kind === 'hyper' ? { loraKind: 'scaled' } : { loraKind: 'hyper', hyper: { hyperDim: 2 } };
    writeFileSync(configFile, JSON.stringify({ ...config, recur: { ...config.recur, ...other } }));
    await expect(loadModel(out)).rejects.toThrow(new RegExp(`tensor .* is not part of the ${other.loraKind} LoRA`));
    writeFileSync(configFile, JSON.stringify({ ...config, recur: { ...config.recur, loraKind: undefined } }));
    await expect(loadModel(out)).rejects.toThrow(
      /belongs to a hyper or scaled LoRA, but config\.json's recur section names no loraKind/,
    );
    // the old object form, and hyper without its section, are refused naming the field
    writeFileSync(configFile, JSON.stringify({ ...config, recur: { ...config.recur, loraKind: { kind: 'scaled' } } }));
    await expect(loadModel(out)).rejects.toThrow(/"recur\.loraKind" must be one of depthwise, mos, hyper, scaled/);
    writeFileSync(
      configFile,
      JSON.stringify({ ...config, recur: { ...config.recur, loraKind: 'hyper', hyper: undefined } }),
    );
    await expect(loadModel(out)).rejects.toThrow(/"recur\.hyper\.hyperDim" must be a positive integer/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('trains its generators or templates and scales: gradients reach them, loss falls, the trained model round-trips', async () => {
    registerGradients();
    const model = await convertModel(source, { ...base, ...loraKindFields(spec) });
    const before = tf.memory().numTensors;
    const trained = trainableModel(model, 'lora');
    const names = [...trained.params.keys()];
    const reached =
      spec.kind === 'hyper'
        ? 'model.lora_hyper.mlp.up_proj.B_generator.weight'
        : 'model.layers.0.mlp.up_proj.lora_scale.weight';
    expect(names).toContain(reached);
    expect(names.some((n) => /\.loop\d+\./.test(n))).toBe(false);
    expect(maxAbsDiff(promptLogits(trained.model), promptLogits(model))).toBeLessThan(1e-4);
    const ids = ref.ids;
    const loss = () => crossEntropy(trained.model.decoder.forward(ids.slice(0, -1)), Int32Array.from(ids.slice(1)));
    const { value, grads } = tf.variableGrads(loss, [...trained.params.values()]);
    expect(maxAbs(grads[trained.params.get(reached)!.name]!.dataSync())).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    const optimizer = tf.train.adam(1e-2);
    const losses: number[] = [];
    for (let step = 0; step < 4; step++) {
      const cost = optimizer.minimize(loss, true, [...trained.params.values()])!;
      losses.push(cost.dataSync()[0]!);
      cost.dispose();
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    optimizer.dispose();
    const out = join(dir, 'trained');
    await saveModel(trained.model, out);
    const loaded = await loadModel(out);
    const expected = promptLogits(trained.model); // generated each call vs materialised once: float32 re-orderings only
    expect(maxAbsDiff(promptLogits(loaded), expected)).toBeLessThan(1e-5 * Math.max(1, maxAbs(expected)));
    disposeModel(loaded);
    disposeModel(trained.model);
    expect(tf.memory().numTensors).toBe(before);
    disposeModel(model);
  });

  it('convertToFolder writes the same folder kind; --torch export holds it as stored (not materialised)', async () => {
    const out = join(dir, 'streamed');
    const summary = await convertToFolder(hfPath, out, { ...base, ...loraKindFields(spec) });
    expect(summary.recur.loraKind).toBe(spec.kind);
    expect(loraKindSpec(summary.recur)).toEqual(spec);
    const loaded = await loadModel(out);
    expect(loaded.generatedLora?.parameterCount).toBe(summary.parameters.lora);
    const torch = await exportTorch(loaded, join(dir, 'torch'));
    const config = JSON.parse(readFileSync(join(dir, 'torch', 'config.json'), 'utf8'));
    expect(loraKindSpec(config.recur)).toEqual(spec);
    expect(torch.parameters).toBe(loaded.decoder.parameterCount + loaded.generatedLora!.parameterCount);
    disposeModel(loaded);
  });
});
