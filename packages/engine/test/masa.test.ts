import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { masaModules } from '@recur/sharing';
import { crossEntropy, initBackend, tf } from '@recur/tensor';
import { registerGradients } from '@recur/train';
import {
  convertMasa,
  convertModel,
  decodeUtf8Prefix,
  disposeModel,
  evaluatePerplexity,
  generate,
  type LoadedModel,
} from '../src/index.js';
import { exportModel, loadModel, saveModel, trainableModel } from '../src/node/index.js';
import { maxAbs, maxAbsDiff, promptLogits, ref } from './logits.js';
import { hfPath, readReference, sharedDir, type PerplexityReference } from './stories260k.js';

// Issue 17 §1: MASA matrix atoms (Share Your Attention, 2025) on stories260K (L = 5).
const heldOut = readReference<PerplexityReference>('perplexity.json').results[0]!;
const text = decodeUtf8Prefix(readFileSync(`${sharedDir}${heldOut.file}`), heldOut.bytes_used);
const window = heldOut.window_tokens_including_bos;

describe('MASA conversion of stories260K', () => {
  let source: LoadedModel;
  let dir: string;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    source = await loadModel(hfPath);
    dir = await mkdtemp(join(tmpdir(), 'recur-masa-'));
  });
  afterAll(async () => {
    disposeModel(source);
    await rm(dir, { recursive: true, force: true });
  });

  it('S = L is lossless: held-out perplexity (fast and tfjs), logits and greedy tokens equal the source', async () => {
    const model = await convertMasa(source, { atoms: 5, modules: masaModules });
    const expected = promptLogits(source);
    expect(maxAbsDiff(promptLogits(model), expected)).toBeLessThan(1e-5 * Math.max(1, maxAbs(expected)));
    for (const fast of [true, false]) {
      const a = await evaluatePerplexity(source, text, { window, fast });
      const b = await evaluatePerplexity(model, text, { window, fast });
      expect(b.path).toBe(fast ? 'fast' : 'tfjs');
      expect(Math.abs(a.meanNll - b.meanNll)).toBeLessThan(1e-5);
    }
    const options = { prompt: '', promptIds: [1], maxNewTokens: 40, temperature: 0, stopAtEos: false };
    expect((await generate(model, options)).ids).toEqual((await generate(source, options)).ids);
    for (const e of model.energy) expect(e.captured).toBeCloseTo(1, 6);
    disposeModel(model);
  });

  it('fewer atoms store fewer parameters; the folder holds atoms, not per-layer matrices, and reloads the same model', async () => {
    const before = tf.memory().numTensors;
    const model = await convertMasa(source, { atoms: 2, modules: ['self_attn.q_proj', 'self_attn.k_proj'] });
    // q [64, 64] and k [32, 64] at 5 layers → 2 atoms each + 5 × 2 coefficients each
    const replaced = 5 * (64 * 64 + 32 * 64);
    const stored = 2 * (64 * 64 + 32 * 64) + 2 * 5 * 2;
    expect(model.parameters.stored).toBe(model.parameters.source - replaced + stored);
    const out = join(dir, 'masa2');
    const { bytes } = await saveModel(model, out);
    const loaded = await loadModel(out);
    const names = loaded.tensors.map((t) => t.name);
    expect(names).toContain('masa.self_attn.q_proj.atoms');
    expect(names).not.toContain('model.layers.0.self_attn.q_proj.weight');
    expect(names).toContain('model.layers.0.self_attn.v_proj.weight');
    expect(bytes).toBeLessThan(model.parameters.source * 4);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.masa).toMatchObject({ atoms: 2, modules: ['self_attn.q_proj', 'self_attn.k_proj'], centred: false });
    expect(loaded.masa?.section.atoms).toBe(2);
    expect(maxAbsDiff(promptLogits(loaded), promptLogits(model))).toBe(0);
    disposeModel(loaded);
    disposeModel(model);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a folder whose masa section does not fit its tensors, naming config.json or the field', async () => {
    const model = await convertMasa(source, { atoms: 2, modules: ['self_attn.q_proj'] });
    const out = join(dir, 'tampered');
    await saveModel(model, out);
    disposeModel(model);
    const configFile = join(out, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    writeFileSync(configFile, JSON.stringify({ ...config, masa: { ...config.masa, atoms: 3 } }));
    await expect(loadModel(out)).rejects.toThrow(
      /"masa" needs tensor masa\.self_attn\.q_proj\.atoms of shape \[3, 64, 64\], found \[2, 64, 64\]/,
    );
    writeFileSync(configFile, JSON.stringify({ ...config, masa: { ...config.masa, modules: ['mlp.up_proj'] } }));
    await expect(loadModel(out)).rejects.toThrow(/config field "masa\.modules" must list some of self_attn\.q_proj/);
    writeFileSync(configFile, JSON.stringify({ ...config, masa: undefined }));
    await expect(loadModel(out)).rejects.toThrow(/model\.layers\.0\.self_attn\.q_proj\.weight" is missing/);
  });

  it('export writes a plain Llama with the materialised matrices (same logits)', async () => {
    const model = await convertMasa(source, { atoms: 3, modules: masaModules });
    const out = join(dir, 'export3');
    await exportModel(model, out);
    const plain = await loadModel(out);
    expect(plain.masa).toBeUndefined();
    const expected = promptLogits(model);
    expect(maxAbsDiff(promptLogits(plain), expected)).toBeLessThan(1e-6 * Math.max(1, maxAbs(expected)));
    disposeModel(plain);
    disposeModel(model);
  });

  it('trains atoms and coefficients: the trainable decoder rebuilds W_l from them, gradients reach them, no tensor leaks', async () => {
    registerGradients();
    const model = await convertMasa(source, { atoms: 2, modules: masaModules });
    const before = tf.memory().numTensors;
    const trained = trainableModel(model, 'shared+lora');
    const names = [...trained.params.keys()];
    expect(names).toContain('masa.self_attn.o_proj.atoms');
    expect(names).toContain('masa.self_attn.o_proj.coefficients');
    expect(names.some((n) => n.endsWith('self_attn.q_proj.weight'))).toBe(false);
    expect(maxAbsDiff(promptLogits(trained.model), promptLogits(model))).toBeLessThan(1e-4);
    const ids = ref.ids;
    const { value, grads } = tf.variableGrads(
      () => crossEntropy(trained.model.decoder.forward(ids.slice(0, -1)), Int32Array.from(ids.slice(1))),
      [...trained.params.values()],
    );
    const atomGrad = grads[trained.params.get('masa.self_attn.q_proj.atoms')!.name];
    expect(atomGrad).toBeDefined();
    expect(maxAbs(atomGrad!.dataSync())).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    disposeModel(trained.model);
    expect(tf.memory().numTensors).toBe(before);
    disposeModel(model);
  });

  it('refuses a model that is already recursive, with one line', async () => {
    const looped = await convertModel(source, {
      loops: 5,
      strategy: 'cycle',
      init: 'stepwise',
      ranks: { attention: 0, mlp: 0 },
      loraInit: 'zero',
      norms: 'tied',
    });
    await expect(convertMasa(looped, { atoms: 1, modules: masaModules })).rejects.toThrow(
      /--sharing masa converts a plain model; this one is already recursive \(looped\)$/,
    );
    disposeModel(looped);
  });
});
