import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerKey, randomDecoder, type AdaptedModule, type DecoderConfig, type LayerAdapter } from '@recur/graph';
import { initBackend, tf } from '@recur/tensor';
import { intervalDriftSum, refIntervalDriftSum, registerGradients, withPenalty, type Objective } from '@recur/train';
import { intactRegularizer, recordIntervals, type ActivationIntervals } from '../src/index.js';
import { loadIntervals, saveIntervals } from '../src/node/index.js';

const config: DecoderConfig = {
  vocabSize: 24,
  hiddenSize: 16,
  intermediateSize: 24,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
};
const windows = [Int32Array.from({ length: 10 }, (_, i) => (i * 7 + 3) % 24), Int32Array.from([1, 5, 9, 2, 4])];
const qKey = layerKey(0, 'self_attn.q_proj.weight');
const downKey = layerKey(1, 'mlp.down_proj.weight');
let dir: string;

beforeAll(async () => {
  await initBackend();
  registerGradients();
  dir = await mkdtemp(join(tmpdir(), 'recur-intact-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 97.1 + i * 12.9898) * 0.999);
}

/** Collects every projection input x [T, in] as float64 rows, by weight key. */
class CaptureAdapter implements LayerAdapter {
  readonly rows = new Map<string, number[][]>();
  adapt(module: AdaptedModule, call: { unique: number }, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    const key = layerKey(call.unique, `${module}.weight`);
    const list = this.rows.get(key) ?? [];
    list.push(...(x.arraySync() as number[][]));
    this.rows.set(key, list);
    return y;
  }
}

describe('InTAct interval recording', () => {
  it('matches a float64 min/max of the inputs each projection sees, and of the first norm computed directly', () => {
    const decoder = randomDecoder(config, { seed: 3, std: 0.3 });
    const start = tf.memory().numTensors;
    const recorded = recordIntervals(decoder, undefined, windows);
    expect(tf.memory().numTensors).toBe(start);
    expect(recorded.windows).toBe(2);
    expect(recorded.tokens).toBe(15);
    expect(recorded.intervals.size).toBe(2 * 7);
    const capture = new CaptureAdapter();
    const probe = new (decoder.constructor as typeof import('@recur/graph').Decoder)(decoder.config, decoder.weights, {
      adapter: capture,
    });
    for (const w of windows) tf.tidy(() => probe.forward(w));
    for (const [key, rows] of capture.rows) {
      const got = recorded.intervals.get(key)!;
      for (let i = 0; i < rows[0]!.length; i++) {
        const column = rows.map((r) => r[i]!);
        expect(got.lower[i]).toBeCloseTo(Math.min(...column), 6);
        expect(got.upper[i]).toBeCloseTo(Math.max(...column), 6);
      }
    }
    // Layer 0's q/k/v input is rmsNorm(embedding) — computed here in float64 from the weights alone.
    const embed = decoder.weights.get('model.embed_tokens.weight')!.arraySync() as number[][];
    const gain = decoder.weights.get(layerKey(0, 'input_layernorm.weight'))!.arraySync() as number[];
    const normed = windows.flatMap((w) =>
      [...w].map((id) => {
        const row = embed[id]!;
        const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / row.length + config.rmsNormEps);
        return row.map((v, i) => (v / rms) * gain[i]!);
      }),
    );
    const q = recorded.intervals.get(qKey)!;
    for (let i = 0; i < config.hiddenSize; i++) {
      expect(q.lower[i]).toBeCloseTo(Math.min(...normed.map((r) => r[i]!)), 5);
      expect(q.upper[i]).toBeCloseTo(Math.max(...normed.map((r) => r[i]!)), 5);
    }
    decoder.dispose();
  });

  it('round-trips through intact/intervals.safetensors + json', async () => {
    const decoder = randomDecoder(config, { seed: 4 });
    const recorded = recordIntervals(decoder, undefined, windows);
    decoder.dispose();
    const saved = await saveIntervals(dir, recorded, { model: 'tiny', data: 'ids' });
    expect(saved).toBe(join(dir, 'intact'));
    const loaded = await loadIntervals(dir);
    expect(loaded.meta.rule).toBe('min-max');
    expect(loaded.tokens).toBe(15);
    expect([...loaded.intervals.keys()].sort()).toEqual([...recorded.intervals.keys()].sort());
    expect([...loaded.intervals.get(downKey)!.upper]).toEqual([...recorded.intervals.get(downKey)!.upper]);
  });
});

describe('InTAct interval-drift regulariser', () => {
  const out = 5;
  const inputs = 4;
  const lower = Float32Array.from(values(inputs, 1), (v) => v - 0.5);
  const upper = Float32Array.from(lower, (v, i) => v + 0.3 + 0.2 * i);

  it('equals the float64 reference', () => {
    const delta = Float32Array.from(values(out * inputs, 2));
    const got = tf.tidy(
      () => intervalDriftSum(tf.tensor2d(delta, [out, inputs]), tf.tensor1d(lower), tf.tensor1d(upper)).dataSync()[0]!,
    );
    expect(got).toBeCloseTo(refIntervalDriftSum(delta, lower, upper), 5);
  });

  /** A two-weight model: variables, their starting values, intervals; the penalty's float64 value at given weights. */
  function setup() {
    const shapes: Record<string, [number, number]> = { a: [out, inputs], b: [3, inputs] };
    const start = new Map(
      Object.entries(shapes).map(([k, s], i) => [k, tf.tensor2d(Float32Array.from(values(s[0] * s[1], 10 + i)), s)]),
    );
    const params = new Map(
      [...start].map(([k, t]) => [k, tf.variable(t.clone(), true, `intact-${k}-${Math.random()}`)]),
    );
    const intervals: ActivationIntervals = {
      intervals: new Map(Object.keys(shapes).map((k) => [k, { lower, upper }])),
      windows: 1,
      tokens: 1,
    };
    const reference = (weights: Map<string, Float64Array>) => {
      let sum = 0;
      for (const [k, w] of weights) {
        const s = start.get(k)!.dataSync();
        sum += refIntervalDriftSum(
          w.map((v, i) => v - s[i]!),
          lower,
          upper,
        );
      }
      return sum / (out + 3);
    };
    const dispose = () => tf.dispose([...start.values(), ...params.values()]);
    return { start, params, intervals, reference, dispose };
  }

  it('is zero, with a zero gradient, while the weights stay where they started', () => {
    const { start, params, intervals, dispose } = setup();
    const regularizer = intactRegularizer(params, start, intervals);
    expect(regularizer.keys).toEqual(['a', 'b']);
    const { value, grads } = tf.variableGrads(() => regularizer.penalty(), [...params.values()]);
    expect(value.dataSync()[0]).toBe(0);
    for (const g of Object.values(grads)) expect(Math.max(...tf.abs(g).dataSync())).toBe(0);
    tf.dispose([value, ...Object.values(grads)]);
    regularizer.dispose();
    dispose();
  });

  it('has the value and gradient of the float64 reference (central differences)', () => {
    const { start, params, intervals, reference, dispose } = setup();
    const baseline = tf.memory().numTensors;
    const moved = new Map(
      [...params].map(([k, v]) => {
        const w = Float32Array.from(start.get(k)!.dataSync(), (s, i) => s + values(v.size, 30 + k.length)[i]! * 0.1);
        tf.tidy(() => v.assign(tf.tensor(w, v.shape, 'float32')));
        return [k, Float64Array.from(v.dataSync())];
      }),
    );
    const regularizer = intactRegularizer(params, start, intervals);
    const { value, grads } = tf.variableGrads(() => regularizer.penalty(), [...params.values()]);
    expect(value.dataSync()[0]).toBeCloseTo(reference(moved), 5);
    const eps = 1e-5;
    for (const [k, v] of params) {
      const grad = grads[v.name]!.dataSync();
      for (const i of [0, 3, 7, 11]) {
        const at = (sign: number) => {
          const w = new Map(moved);
          const bumped = Float64Array.from(moved.get(k)!);
          bumped[i]! += sign * eps;
          w.set(k, bumped);
          return reference(w);
        };
        expect(grad[i]).toBeCloseTo((at(1) - at(-1)) / (2 * eps), 4);
      }
    }
    tf.dispose([value, ...Object.values(grads)]);
    regularizer.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
    dispose();
  });

  it('adds λ·penalty to an objective', () => {
    const { start, params, intervals, reference, dispose } = setup();
    tf.tidy(() => params.get('a')!.assign(tf.add(start.get('a')!, 0.05)));
    const regularizer = intactRegularizer(params, start, intervals);
    const base: Objective = { loss: () => tf.scalar(2) };
    const loss = withPenalty(base, () => regularizer.penalty(), 3).loss([], [], {} as never);
    const moved = new Map([...params].map(([k, v]) => [k, Float64Array.from(v.dataSync())]));
    expect(loss.dataSync()[0]).toBeCloseTo(2 + 3 * reference(moved), 5);
    loss.dispose();
    regularizer.dispose();
    dispose();
  });
});
