import { beforeAll, describe, expect, it } from 'vitest';
import { adaptedModules, Decoder, executionSteps, type LayerCall } from '@recur/graph';
import { gaussianArray, initBackend, tf } from '@recur/tensor';
import {
  defaultMosSettings,
  initMosLora,
  LoraError,
  loraDeltaReference,
  loraKey,
  MosLora,
  mosGather,
  mosGatherReference,
  mosIndexKey,
  mosParameterCounts,
  mosPoolKey,
  mosTables,
  type ArrayTensor,
  type MosSettings,
} from '../src/index.js';
import { randomSource, tinyConfig } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const order = [0, 1, 0, 1, 0, 1]; // two stored layers, three loops
const config = { ...tinyConfig(2), layerOrder: order };
const steps = executionSteps(config).map((s) => [s.unique, s.loop] as const);
const ranks = { attention: 2, mlp: 2 };
const settings: MosSettings = { ...defaultMosSettings, pool: 4, shards: 2, private: 0.25, seed: 3 };

/** The pools with B made non-zero (a fresh B pool is zero), as a trained model would have them. */
function trainedArrays(s: MosSettings = settings): Map<string, ArrayTensor> {
  const { arrays } = initMosLora({ config, steps, ranks, settings: s });
  for (const [key, t] of arrays)
    if (key.endsWith('lora_B.pool'))
      arrays.set(key, { data: gaussianArray(t.data.length, key.length), shape: t.shape });
  return arrays;
}

describe('MoS shard gather (Wang et al. 2024)', () => {
  it('matches its float64 reference for A and B', () => {
    const start = tf.memory().numTensors;
    const pool = Float64Array.from(gaussianArray(6 * 3, 11)); // [6 rows, shard 3]
    const slots = Int32Array.from([5, 0, 2, 2]); // rank 2 × 2 shards (a row may repeat across vectors)
    for (const factor of ['A', 'B'] as const) {
      const expected = mosGatherReference(pool, 3, slots, 2, factor);
      const got = tf.tidy(() => mosGather(tf.tensor2d(Float32Array.from(pool), [6, 3]), slots, 2, factor).dataSync());
      expect(got.length).toBe(12);
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - expected[i]!)).toBeLessThan(1e-6);
    }
    // A row 0 = pool[5] ‖ pool[0]; B column 1 = pool[2] ‖ pool[2]
    const a = mosGatherReference(pool, 3, slots, 2, 'A');
    expect([...a.slice(0, 6)]).toEqual([...pool.slice(15, 18), ...pool.slice(0, 3)]);
    const b = mosGatherReference(pool, 3, slots, 2, 'B');
    expect([0, 1, 2, 3, 4, 5].map((o) => b[o * 2 + 1])).toEqual([...pool.slice(6, 9), ...pool.slice(6, 9)]);
    expect(tf.memory().numTensors).toBe(start);
  });

  it("adapter's delta equals the float64 reference gathered from the pools", () => {
    const lora = MosLora.fromArrays(trainedArrays(), { ...settings, steps }, 0.5);
    const start = tf.memory().numTensors;
    const arrays = trainedArrays();
    const module = 'mlp.gate_proj'; // [12, 8]
    const { layout, a: tableA, b: tableB } = mosTables({ config, steps, ranks, settings }).get(module)!;
    const call: LayerCall = { unique: 1, loop: 2, step: 5 };
    const row = 5;
    const slot = (t: Int32Array) => t.subarray(row * layout.slots, (row + 1) * layout.slots);
    const pool = (factor: 'A' | 'B') => Float64Array.from(arrays.get(mosPoolKey(module, factor))!.data);
    const a = mosGatherReference(pool('A'), 4, slot(tableA), 2, 'A'); // [2, 8]
    const b = mosGatherReference(pool('B'), 6, slot(tableB), 2, 'B'); // [12, 2]
    const x = Float64Array.from(gaussianArray(3 * 8, 7)); // [3, 8]
    const expected = loraDeltaReference(x, a, b, { tokens: 3, inputs: 8, outputs: 12, rank: 2 }, 0.5);
    const got = tf.tidy(() => {
      const xs = tf.tensor2d(Float32Array.from(x), [3, 8]);
      return lora.adapt(module, call, xs, tf.zeros([3, 12]) as tf.Tensor2D).dataSync();
    });
    for (let i = 0; i < expected.length; i++) expect(Math.abs(got[i]! - expected[i]!)).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(start);
    lora.dispose();
  });

  it('materialises the same factors as a plain depth-wise LoRA', () => {
    const start = tf.memory().numTensors;
    const lora = MosLora.fromArrays(trainedArrays(), { ...settings, steps });
    const dense = lora.materialise();
    const gathered = tf.tidy(() => lora.factors('self_attn.q_proj', 0, 1)!.b.dataSync());
    expect([...dense.tensors.get(loraKey(0, 'self_attn.q_proj', 1, 'B'))!.dataSync()]).toEqual([...gathered]);
    expect(dense.tensors.size).toBe(steps.length * adaptedModules.length * 2);
    dense.dispose();
    lora.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('MoS layout and init', () => {
  it('zero B pool: a fresh MoS model equals its base', () => {
    const start = tf.memory().numTensors;
    const weights = randomSource(tinyConfig(2), 1);
    const { section, arrays } = initMosLora({ config, steps, ranks, settings });
    const lora = MosLora.fromArrays(arrays, section);
    const base = Decoder.fromArrays(config, weights);
    const adapted = Decoder.fromArrays(config, weights, { adapter: lora });
    const tokens = Int32Array.from([1, 5, 9, 3]);
    const [x, y] = [base, adapted].map((d) => tf.tidy(() => d.forward(tokens).dataSync()));
    expect([...y!]).toEqual([...x!]);
    base.dispose();
    adapted.dispose();
    lora.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('strategies: private rows are one step’s own, subset draws differ, dissociation splits A and B', () => {
    const tables = mosTables({ config, steps, ranks, settings }).get('self_attn.q_proj')!;
    const { slots, privatePerStep, publicRows, poolRows } = tables.layout;
    expect([slots, privatePerStep, publicRows, poolRows]).toEqual([4, 1, 4, 4 + 6]);
    const rows = (t: Int32Array, s: number) => [...t.subarray(s * slots, (s + 1) * slots)];
    for (let s = 0; s < steps.length; s++) {
      expect(rows(tables.a, s)[0]).toBe(publicRows + s); // its private row
      expect(new Set(rows(tables.a, s).slice(1)).size).toBe(3); // drawn without replacement
      expect(
        rows(tables.a, s)
          .slice(1)
          .every((r) => r < publicRows),
      ).toBe(true);
    }
    expect(tables.b).not.toEqual(tables.a);
    const paired = mosTables({ config, steps, ranks, settings: { ...settings, dissociation: false } }).get(
      'mlp.up_proj',
    )!;
    expect(paired.b).toEqual(paired.a);
    const pure = mosTables({
      config,
      steps,
      ranks,
      settings: { ...settings, subset: false, dissociation: false, private: 0 },
    });
    const plain = pure.get('mlp.up_proj')!;
    expect(plain.layout.poolRows).toBe(4); // one step's worth, shared by all
    expect([...plain.a]).toEqual(steps.flatMap(() => [0, 1, 2, 3]));
    const unsharded = mosTables({ config, steps, ranks, settings: { ...settings, shards: 1 } }).get('mlp.up_proj')!;
    expect(unsharded.layout.slots).toBe(2);
  });

  it('counts parameters against depth-wise LoRA at equal rank', () => {
    const counts = mosParameterCounts(mosTables({ config, steps, ranks, settings }), steps.length);
    // depth-wise: 6 steps × rank 2 × Σ(in + out) = 12 × (16 + 12 + 12 + 16 + 20 + 20 + 20)
    expect(counts.depthwise).toBe(12 * 116);
    // MoS: (4 public + 6 × 1 private) rows × Σ(in + out) / 2 per module
    expect(counts.mos).toBe(10 * 58);
  });

  it('refuses settings that do not fit, naming the flag', () => {
    expect(() => mosTables({ config, steps, ranks, settings: { ...settings, shards: 3 } })).toThrow(/--mos-shards 3/);
    expect(() => mosTables({ config, steps, ranks, settings: { ...settings, pool: 2 } })).toThrow(LoraError);
    const { arrays, section } = initMosLora({ config, steps, ranks, settings });
    const key = mosIndexKey('self_attn.k_proj', 'B');
    const table = arrays.get(key)!;
    arrays.set(key, { data: table.data.map((v, i) => (i === 3 ? 99 : v)), shape: table.shape });
    expect(() => MosLora.fromArrays(arrays, section)).toThrow(/index_B\[3\] = 99/);
  });
});
