import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy, initBackend, tf } from '@recur/tensor';
import { AdamW, registerGradients } from '@recur/train';
import { disposeModel, fastDecoderFor, type LoadedModel } from '../src/index.js';
import { dvptTrainable, loadDvpt, loadModel, saveDvpt } from '../src/node/index.js';
import { hfPath, readReference, type LogitsReference } from './stories260k.js';

// DVPT on stories260K: only the modules train, a few steps lower the loss, the base is untouched,
// RUN/dvpt round-trips to equal logits, the fast path declines, and every tensor is freed.

const dir = mkdtempSync(join(tmpdir(), 'recur-dvpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  await initBackend();
  registerGradients();
});

const logits = (model: LoadedModel, ids: readonly number[]) =>
  tf.tidy(() => model.decoder.forward(ids).dataSync() as Float32Array);

describe('DVPT on stories260K', () => {
  it('trains only its modules, lowers the loss, leaves the base as it was, and saves/loads to equal logits', async () => {
    const base = await loadModel(hfPath);
    const { ids } = readReference<LogitsReference>('logits_prompt.json');
    const inputs = ids.slice(0, -1);
    const targets = Int32Array.from(ids.slice(1));
    const baseBefore = logits(base, inputs);
    const before = tf.memory().numTensors;

    const trained = dvptTrainable(base, { prompts: 4, bottleneck: 8, share: 'loops' }, 1);
    expect([...trained.params.keys()].every((k) => k.startsWith('dvpt.'))).toBe(true);
    expect(trained.params.size).toBe(5 * 3); // one module per layer of a plain 5-layer model, 3 tensors each
    for (const [name, t] of trained.tensors)
      if (!trained.params.has(name)) expect(t instanceof tf.Variable && t.trainable, name).toBe(false);
    // starts equal to its base (up = 0)
    expect(logits(trained.model, inputs)).toEqual(baseBefore);

    // a scope frees the zerosLike tensors AdamW builds its moment Variables from
    tf.engine().startScope();
    const optimizer = new AdamW(trained.params, { weightDecay: 0 });
    tf.engine().endScope();
    const losses: number[] = [];
    for (let step = 0; step < 6; step++) {
      const { value, grads } = tf.variableGrads(() => crossEntropy(trained.model.decoder.forward(inputs), targets));
      expect(Object.keys(grads).sort()).toEqual([...trained.params.values()].map((v) => v.name).sort());
      losses.push(value.dataSync()[0]!);
      const byName = new Map([...trained.params].map(([key, v]) => [key, grads[v.name]!]));
      optimizer.apply(byName, 0.02);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses[5]!).toBeLessThan(losses[0]! - 0.01);
    expect(logits(base, inputs)).toEqual(baseBefore);

    const saved = await saveDvpt(dir, base, trained.dvpt);
    expect(saved).toBe(join(dir, 'dvpt'));
    const config = JSON.parse(readFileSync(join(saved, 'dvpt_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ format: 'recur-dvpt', prompts: 4, bottleneck: 8, share: 'loops', modules: 5 });
    const trainedLogits = logits(trained.model, inputs);
    optimizer.dispose();
    disposeModel(trained.model);
    expect(tf.memory().numTensors).toBe(before);

    const loaded = await loadModel(hfPath, { dvpt: saved });
    expect(logits(loaded, inputs)).toEqual(trainedLogits);
    expect((await fastDecoderFor(loaded)).reason).toMatch(/DVPT/);
    disposeModel(loaded);
    disposeModel(base);
  }, 120_000);

  it('refuses a DVPT folder whose fingerprint is another base, in one line', async () => {
    const base = await loadModel(hfPath);
    const fresh = dvptTrainable(base, { prompts: 2, bottleneck: 4, share: 'layers' }, 2);
    const out = mkdtempSync(join(dir, 'other-'));
    const folder = await saveDvpt(out, base, fresh.dvpt);
    disposeModel(fresh.model);
    const file = join(folder, 'dvpt_config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...config, recur_base_fingerprint: `sha256:${'0'.repeat(64)}` }));
    const before = tf.memory().numTensors;
    await expect(loadDvpt(folder, base)).rejects.toThrow(
      /dvpt_config\.json: the DVPT modules were trained on .*hf \(weights sha256:000000000000\), not on .*: modules for another base are refused$/,
    );
    expect(tf.memory().numTensors).toBe(before);
    disposeModel(base);
  }, 60_000);
});
