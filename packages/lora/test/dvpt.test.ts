import { beforeAll, describe, expect, it } from 'vitest';
import { Decoder, randomDecoder, type DecoderConfig } from '@recur/graph';
import { gaussianArray, initBackend, tf } from '@recur/tensor';
import {
  dvptKey,
  dvptModuleCount,
  DvptModules,
  dvptUpdate,
  dvptUpdateReference,
  freshDvpt,
  withDvpt,
  type DvptShape,
  type Matrix64,
} from '../src/index.js';
import { tinyConfig } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const [T, D, B, P] = [7, 8, 4, 3];
const matrix = (rows: number, cols: number, seed: number, scale = 1): Matrix64 => ({
  data: Float64Array.from(gaussianArray(rows * cols, seed), (v) => v * scale),
  rows,
  cols,
});
const tensor = (m: Matrix64) => tf.tensor2d(Float32Array.from(m.data), [m.rows, m.cols]);
const params64 = { down: matrix(B, D, 1, 0.4), up: matrix(D, B, 2), prompts: matrix(P, B, 3) };

function runOp(h: Matrix64, split?: number): Float32Array {
  return tf.tidy(() => {
    const params = { down: tensor(params64.down), up: tensor(params64.up), prompts: tensor(params64.prompts) };
    const x = tensor(h);
    if (split === undefined) return dvptUpdate(x, params).out.dataSync() as Float32Array;
    const first = dvptUpdate(tf.slice(x, [0, 0], [split, -1]), params);
    const second = dvptUpdate(tf.slice(x, [split, 0], [-1, -1]), params, first.carry);
    return tf.concat([first.out, second.out], 0).dataSync() as Float32Array;
  });
}

describe('dvptUpdate', () => {
  it('matches the float64 reference within 1e-5', () => {
    const h = matrix(T, D, 4, 2);
    const before = tf.memory().numTensors;
    const got = runOp(h);
    const want = dvptUpdateReference(h, params64);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('carries the prompts’ attention across calls exactly (any split equals one call)', () => {
    const h = matrix(T, D, 5, 2);
    const whole = runOp(h);
    for (const split of [1, 3, 6]) {
      const parts = runOp(h, split);
      for (let i = 0; i < whole.length; i++) expect(Math.abs(parts[i]! - whole[i]!)).toBeLessThan(1e-5);
    }
  });

  it('is causal: changing a later token changes no earlier output (op and reference)', () => {
    const h = matrix(T, D, 6, 2);
    const changed = { ...h, data: Float64Array.from(h.data) };
    for (let i = 5 * D; i < T * D; i++) changed.data[i] = changed.data[i]! * -3 + 1;
    const [a, b] = [runOp(h), runOp(changed)];
    const [ra, rb] = [dvptUpdateReference(h, params64), dvptUpdateReference(changed, params64)];
    for (let i = 0; i < 5 * D; i++) {
      expect(b[i]).toBe(a[i]);
      expect(rb[i]).toBe(ra[i]);
    }
    expect(b[5 * D]).not.toBe(a[5 * D]);
  });
});

/** DVPT modules with non-zero up (a trained-looking module) for a config. */
function modules(config: DecoderConfig, shape: DvptShape): DvptModules {
  const arrays = freshDvpt(config, shape, 7);
  const tensors = new Map<string, tf.Tensor>();
  for (const [key, { data, shape: s }] of arrays) {
    const values = key.endsWith('up_proj.weight') ? gaussianArray(data.length, key.length) : data;
    tensors.set(key, tf.tensor(values, [...s], 'float32'));
  }
  return new DvptModules(shape, tensors);
}

const recursive = (): DecoderConfig => ({ ...tinyConfig(2), layerOrder: [0, 1, 0, 1] });

describe('DVPT modules on a decoder', () => {
  it('shares one module over every step (layers), per block position (loops) or none', () => {
    const config = recursive();
    expect(dvptModuleCount('layers', config)).toBe(1);
    expect(dvptModuleCount('loops', config)).toBe(2);
    expect(dvptModuleCount('none', config)).toBe(4);
    const m = modules(config, { prompts: 2, bottleneck: 4, share: 'loops' });
    m.checkFits(config, 'test');
    expect(m.params({ unique: 1, step: 3, loop: 1 }).down).toBe(m.tensors.get(dvptKey(1, 'down_proj.weight')));
    expect(() => m.checkFits({ ...config, layerOrder: [0, 1, 2, 0, 1, 2], numLayers: 3 }, 'dir')).toThrow(/dvpt\.2/);
    m.dispose();
  });

  it('decodes token by token through a KvCache as the whole sequence does, causally, freeing its tensors', () => {
    const config = recursive();
    const base = randomDecoder(config, { seed: 3, std: 0.3 });
    const m = modules(config, { prompts: 3, bottleneck: 4, share: 'none' });
    const decoder = new Decoder(config, base.weights, { adapter: withDvpt(m) });
    const ids = [1, 5, 9, 2, 7, 3];
    const before = tf.memory().numTensors;
    const whole = decoder.forward(ids);
    const wholeData = whole.dataSync();
    const cache = decoder.newCache();
    const prefill = decoder.forward(ids.slice(0, 2), { cache });
    const steps = ids.slice(2).map((id) => decoder.forward([id], { cache }));
    const incremental = [prefill, ...steps].flatMap((t) => Array.from(t.dataSync()));
    for (let i = 0; i < wholeData.length; i++) expect(Math.abs(incremental[i]! - wholeData[i]!)).toBeLessThan(1e-4);
    const changedLogits = decoder.forward([...ids.slice(0, 5), 11]);
    const changed = changedLogits.dataSync();
    for (let i = 0; i < 5 * config.vocabSize; i++) expect(changed[i]).toBe(wholeData[i]);
    const plainLogits = base.forward(ids);
    const plain = plainLogits.dataSync();
    expect(Math.max(...plain.map((v, i) => Math.abs(v - wholeData[i]!)))).toBeGreaterThan(1e-3);
    tf.dispose([whole, prefill, ...steps, changedLogits, plainLogits]);
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before);
    base.dispose();
    m.dispose();
  });

  it('refuses to continue a sequence without the state of its earlier positions', () => {
    const config = tinyConfig(1);
    const base = randomDecoder(config, { seed: 4 });
    const m = modules(config, { prompts: 2, bottleneck: 4, share: 'layers' });
    const decoder = new Decoder(config, base.weights, { adapter: withDvpt(m) });
    const cache = decoder.newCache();
    cache.advance(3); // positions 0…2 never went through the DVPT
    expect(() => decoder.forward([1], { cache })).toThrow(/positions 0…2/);
    cache.dispose();
    base.dispose();
    m.dispose();
  });
});
