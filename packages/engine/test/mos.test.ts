import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy, initBackend, tf } from '@recur/tensor';
import { AdamW, registerGradients } from '@recur/train';
import {
  convertModel,
  decodeUtf8Prefix,
  defaultMosSettings,
  disposeModel,
  evaluatePerplexity,
  generate,
  type ConvertOptions,
  type LoadedModel,
} from '../src/index.js';
import { convertToFolder, exportModel, loadModel, saveModel, trainableModel } from '../src/node/index.js';
import { maxAbs, maxAbsDiff, promptLogits, ref } from './logits.js';
import { hfPath, readReference, sharedDir, type PerplexityReference } from './stories260k.js';

// Issue 17 §2: MoS LoRA (Wang et al. 2024, arXiv 2410.00938) on stories260K.
const heldOut = readReference<PerplexityReference>('perplexity.json').results[0]!;
const text = decodeUtf8Prefix(readFileSync(`${sharedDir}${heldOut.file}`), heldOut.bytes_used).slice(0, 4000);

const base: ConvertOptions = {
  loops: 2,
  strategy: 'cycle',
  init: 'stepwise',
  ranks: { attention: 8, mlp: 8 },
  loraInit: 'zero',
  norms: 'per-loop',
};
const mos: ConvertOptions = { ...base, loraKind: 'mos', mos: { ...defaultMosSettings, pool: 16 } };

describe('MoS LoRA on stories260K', () => {
  let source: LoadedModel;
  let dir: string;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    registerGradients();
    source = await loadModel(hfPath);
    dir = await mkdtemp(join(tmpdir(), 'recur-mos-'));
  });
  afterAll(async () => {
    disposeModel(source);
    await rm(dir, { recursive: true, force: true });
  });

  it('convert: pools and index tables on disk, fewer parameters than depth-wise, equal to the tied model at step 0', async () => {
    const out = join(dir, 'mos');
    const summary = await convertToFolder(hfPath, out, mos);
    expect(summary.mos!.pools).toBeLessThan(summary.mos!.depthwise);
    const loaded = await loadModel(out);
    const names = loaded.tensors.map((t) => t.name);
    expect(names).toContain('mos.self_attn.q_proj.lora_A.pool');
    expect(names).toContain('mos.mlp.down_proj.index_B');
    expect(names.some((n) => n.includes('.lora_A.loop'))).toBe(false);
    expect(loaded.recur).toMatchObject({ loraKind: 'mos', loraInit: 'zero', mos: { pool: 16, shards: 2 } });
    expect(loaded.mos!.parameterCount).toBe(summary.parameters.lora);
    // zero B pool: the same logits as the tied model with per-loop norms and no LoRA
    const tied = await convertModel(source, { ...base, ranks: { attention: 0, mlp: 0 } });
    expect(maxAbsDiff(promptLogits(loaded), promptLogits(tied))).toBe(0);
    // the in-memory conversion makes the same model
    const memory = await convertModel(source, mos);
    expect(maxAbsDiff(promptLogits(memory), promptLogits(loaded))).toBe(0);
    for (const m of [tied, memory, loaded]) disposeModel(m);
  });

  it('trains the pools (loss falls), saves pools that reload exactly, and eval, generate and export run on the result', async () => {
    const loaded = await loadModel(join(dir, 'mos'));
    const before = tf.memory().numTensors;
    const trained = trainableModel(loaded, 'lora');
    expect([...trained.params.keys()].every((n) => n.startsWith('mos.') || n.includes('.loop'))).toBe(true);
    expect(trained.params.has('mos.self_attn.q_proj.lora_B.pool')).toBe(true);
    const optimizer = new AdamW(trained.params, { weightDecay: 0 });
    const ids = ref.ids;
    const losses: number[] = [];
    for (let step = 0; step < 6; step++) {
      const { value, grads } = tf.variableGrads(
        () => crossEntropy(trained.model.decoder.forward(ids.slice(0, -1)), Int32Array.from(ids.slice(1))),
        [...trained.params.values()],
      );
      losses.push(value.dataSync()[0]!);
      const byName = new Map([...trained.params].map(([name, v]) => [name, grads[v.name]!]));
      optimizer.apply(byName, 1e-2);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]! - 0.05);
    const bPool = trained.params.get('mos.self_attn.q_proj.lora_B.pool')!;
    expect(maxAbs(bPool.dataSync())).toBeGreaterThan(0);
    const out = join(dir, 'trained');
    await saveModel(trained.model, out);
    const pools = new Map<string, number[]>();
    for (const [name, pool] of trained.model.mos!.pools) pools.set(name, [...(await pool.data())]);
    const expected = promptLogits(trained.model); // tfjs, factors gathered at each call
    optimizer.dispose();
    disposeModel(trained.model);
    expect(tf.memory().numTensors).toBe(before);
    const reloaded = await loadModel(out);
    for (const [name, data] of pools) expect([...(await reloaded.mos!.pools.get(name)!.data())]).toEqual(data);
    expect(maxAbsDiff(promptLogits(reloaded), expected)).toBeLessThan(1e-6 * Math.max(1, maxAbs(expected)));
    // eval on both executors agrees; generate runs; export folds the materialised factors into a plain Llama
    const fast = await evaluatePerplexity(reloaded, text, { window: 128, fast: true });
    const slow = await evaluatePerplexity(reloaded, text, { window: 128, fast: false });
    expect(fast.path).toBe('fast');
    expect(Math.abs(fast.meanNll - slow.meanNll)).toBeLessThan(1e-4);
    const greedy = { prompt: '', promptIds: [1], maxNewTokens: 12, temperature: 0, stopAtEos: false };
    expect((await generate(reloaded, greedy)).ids).toHaveLength(12);
    await exportModel(reloaded, join(dir, 'plain'));
    const plain = await loadModel(join(dir, 'plain'));
    expect(plain.mos).toBeUndefined();
    const logits = promptLogits(reloaded);
    expect(maxAbsDiff(promptLogits(plain), logits)).toBeLessThan(1e-4 * Math.max(1, maxAbs(logits)));
    disposeModel(plain);
    disposeModel(reloaded);
    disposeModel(loaded);
  });
});
