import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertModel, disposeModel, type ConvertOptions, type LoadedModel } from '../src/index.js';
import { baseFingerprint, exportModel, loadModel } from '../src/node/index.js';
import { ggufPath, hfPath } from './stories260k.js';
import { maxAbs, maxAbsDiff, promptLogits as logits } from './logits.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'recur-export-'));

const relaxed: ConvertOptions = {
  strategy: 'cycle',
  loops: 2,
  init: 'average',
  ranks: { attention: 8, mlp: 16 },
  loraInit: 'svd',
  norms: 'per-loop',
  loraScale: 2,
};

describe('exporting models as plain Llama checkpoints', () => {
  let source: LoadedModel;
  beforeAll(async () => {
    await initBackend();
    source = await loadModel(hfPath);
  });
  afterAll(() => disposeModel(source));

  it('a GGUF model exported as a HF folder gives the same logits', async () => {
    const gguf = await loadModel(ggufPath);
    const dir = tmp();
    const result = await exportModel(gguf, dir);
    const back = await loadModel(dir);
    expect(result.numLayers).toBe(5);
    expect(maxAbsDiff(logits(back), logits(gguf))).toBeLessThan(1e-6);
    disposeModel(back);
    disposeModel(gguf);
  });

  it('merging depth-wise LoRA into an unrolled model keeps the outputs of the relaxed recursive model', async () => {
    const before = tf.memory().numTensors;
    const converted = await convertModel(source, relaxed);
    const dir = tmp();
    const result = await exportModel(converted, dir, { lora: 'merge' });
    const merged = await loadModel(dir);
    expect(merged.recur).toBeUndefined();
    expect(merged.lora).toBeUndefined();
    expect(result.numLayers).toBe(converted.decoder.order.length);
    expect(merged.decoder.config.numLayers).toBe(converted.decoder.order.length);
    // Merging changes float32 rounding order (W + B·A summed once instead of x·Wᵀ + x·Aᵀ·Bᵀ per row):
    // so allow 1e-5 of the largest logit.
    const expected = logits(converted);
    const scale = maxAbs(expected);
    expect(maxAbsDiff(logits(merged), expected)).toBeLessThan(1e-5 * scale);
    disposeModel(merged);
    disposeModel(converted);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a PEFT adapter over the unrolled base reloads to the same outputs', async () => {
    const converted = await convertModel(source, { ...relaxed, norms: 'tied' });
    const dir = tmp();
    const result = await exportModel(converted, dir, { lora: 'peft' });
    expect(result.adapterDir).toBe(join(dir, 'adapter'));
    const config = JSON.parse(readFileSync(join(dir, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: dir });
    expect(config.target_modules).toEqual([
      'down_proj',
      'gate_proj',
      'k_proj',
      'o_proj',
      'q_proj',
      'up_proj',
      'v_proj',
    ]);
    expect(config.rank_pattern['model.layers.0.mlp.up_proj']).toBe(16);
    expect(config.alpha_pattern['model.layers.0.self_attn.q_proj']).toBe(2 * 8); // PEFT scale alpha/r = our scale 2
    const base = await loadModel(dir);
    // it names its base like a trained adapter does, so it can be composed and checked
    expect(config.recur_base_fingerprint).toBe(baseFingerprint(base));
    const adapted = await loadModel(dir, { adapter: result.adapterDir! });
    const expected = logits(converted);
    expect(maxAbsDiff(logits(adapted), expected)).toBeLessThan(1e-4);
    expect(maxAbsDiff(logits(base), expected)).toBeGreaterThan(1e-3); // the adapter matters
    for (const m of [base, adapted, converted]) disposeModel(m);
  });

  it('a folder without adapter_config.json is refused with a clear error', async () => {
    await expect(loadModel(hfPath, { adapter: tmp() })).rejects.toThrow(/not a PEFT adapter folder/);
  });
});
