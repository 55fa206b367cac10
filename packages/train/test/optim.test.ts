import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import {
  AdamW,
  clipByGlobalNorm,
  decaysByDefault,
  learningRate,
  OptimError,
  validateSchedule,
  type LrSchedule,
} from '../src/index.js';

describe('AdamW', () => {
  beforeAll(() => initBackend());

  it('takes the hand-computed first and second steps on a 3-element tensor (decoupled decay, bias correction)', async () => {
    const p = tf.variable(tf.tensor1d([1, -2, 3]));
    const opt = new AdamW(new Map([['w', p]]), {
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
      weightDecay: 0.1,
      decay: () => true,
    });
    const g1 = [0.5, -1, 2];
    opt.apply(new Map([['w', tf.tensor1d(g1)]]), 0.1);
    // m̂ = g, v̂ = g² after one step, so the Adam step is lr·sign(g); decay multiplies p by 1 − lr·λ = 0.99.
    const step1 = [1 * 0.99 - 0.1, -2 * 0.99 + 0.1, 3 * 0.99 - 0.1]; // [0.89, −1.88, 2.87]
    expectClose(await p.data(), step1, 1e-6);
    const g2 = [0.1, 0.2, -0.3];
    opt.apply(new Map([['w', tf.tensor1d(g2)]]), 0.1);
    const step2 = step1.map((p1, i) => {
      const m = 0.9 * (0.1 * g1[i]!) + 0.1 * g2[i]!;
      const v = 0.999 * (0.001 * g1[i]! ** 2) + 0.001 * g2[i]! ** 2;
      return p1 * 0.99 - (0.1 * (m / (1 - 0.9 ** 2))) / (Math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8);
    });
    expectClose(await p.data(), step2, 1e-6);
    expect(opt.step).toBe(2);
    opt.dispose();
    p.dispose();
  });

  it('leaves norms, biases and embeddings out of weight decay by default', () => {
    expect(decaysByDefault('model.layers.0.self_attn.q_proj.weight', [8, 8])).toBe(true);
    expect(decaysByDefault('model.layers.0.input_layernorm.weight', [8])).toBe(false);
    expect(decaysByDefault('model.layers.0.self_attn.q_proj.bias', [8])).toBe(false);
    expect(decaysByDefault('model.embed_tokens.weight', [50, 8])).toBe(false);
    expect(decaysByDefault('lm_head.weight', [50, 8])).toBe(false);
    // With a zero gradient only decay moves a parameter: the norm stays, the matrix shrinks.
    const norm = tf.variable(tf.ones([2]));
    const mat = tf.variable(tf.ones([2, 2]));
    const opt = new AdamW(
      new Map([
        ['n.weight', norm],
        ['m.weight', mat],
      ]),
      { weightDecay: 0.5 },
    );
    opt.apply(
      new Map([
        ['n.weight', tf.zeros([2])],
        ['m.weight', tf.zeros([2, 2])],
      ]),
      0.1,
    );
    expect(Array.from(norm.dataSync())).toEqual([1, 1]);
    expectClose(mat.dataSync(), [0.95, 0.95, 0.95, 0.95], 1e-7);
    opt.dispose();
    tf.dispose([norm, mat]);
  });

  it('exports and imports its moments and step as plain arrays', () => {
    const make = () =>
      tf.variable(
        tf.tensor2d([
          [1, 2],
          [3, 4],
        ]),
      );
    const a = make();
    const optA = new AdamW(new Map([['w', a]]));
    optA.apply(
      new Map([
        [
          'w',
          tf.tensor2d([
            [0.1, -0.2],
            [0.3, 0.4],
          ]),
        ],
      ]),
      0.01,
    );
    const state = optA.state();
    expect(state.step).toBe(1);
    expect(state.m.get('w')!.length).toBe(4);
    const b = tf.variable(a.clone());
    const optB = new AdamW(new Map([['w', b]]));
    optB.loadState(state);
    const g = () =>
      new Map([
        [
          'w',
          tf.tensor2d([
            [0.5, 0.5],
            [-0.5, 0.1],
          ]),
        ],
      ]);
    optA.apply(g(), 0.01);
    optB.apply(g(), 0.01);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(() => optB.loadState({ step: 1, m: new Map([['w', new Float32Array(3)]]), v: state.v })).toThrow(
      /m of w has 3 values, the parameter has 4/,
    );
    expect(() => optB.loadState({ step: 1, m: new Map(), v: state.v })).toThrow(OptimError);
    tf.dispose([a, b]);
    optA.dispose();
    optB.dispose();
  });

  it('keeps only the new moments and parameters: no tensors left behind by a step', () => {
    const p = tf.variable(tf.ones([4, 4]));
    const opt = new AdamW(new Map([['w', p]]));
    const g = tf.ones([4, 4]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) opt.apply(new Map([['w', g]]), 0.001);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([p, g]);
    opt.dispose();
  });
});

describe('learning-rate schedules', () => {
  it('cosine: linear warmup to the peak, cosine down to minLrRatio·peak, then flat', () => {
    const s: LrSchedule = { kind: 'cosine', peakLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLrRatio: 0.1 };
    expect(learningRate(s, 0)).toBeCloseTo(1e-4, 12);
    expect(learningRate(s, 4)).toBeCloseTo(5e-4, 12);
    expect(learningRate(s, 9)).toBeCloseTo(1e-3, 12);
    expect(learningRate(s, 10)).toBeCloseTo(1e-3, 12);
    expect(learningRate(s, 60)).toBeCloseTo(5.5e-4, 12); // halfway: min + (peak − min)/2
    expect(learningRate(s, 110)).toBeCloseTo(1e-4, 12);
    expect(learningRate(s, 500)).toBeCloseTo(1e-4, 12);
  });

  it('WSD: warmup, stable at the peak, then linear or cosine decay over the last fraction', () => {
    const linear: LrSchedule = { kind: 'wsd', peakLr: 1, warmupSteps: 4, totalSteps: 100, decayFraction: 0.2 };
    expect([0, 1, 3, 4, 50, 79, 80].map((s) => learningRate(linear, s))).toEqual([0.25, 0.5, 1, 1, 1, 1, 1]);
    expect(learningRate(linear, 90)).toBeCloseTo(0.5, 12);
    expect(learningRate(linear, 95)).toBeCloseTo(0.25, 12);
    expect(learningRate(linear, 100)).toBeCloseTo(0, 12);
    const cosine: LrSchedule = { ...linear, decayShape: 'cosine', minLrRatio: 0.1 };
    expect(learningRate(cosine, 85)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(learningRate(cosine, 100)).toBeCloseTo(0.1, 12);
    expect(learningRate({ kind: 'constant', lr: 3e-4 }, 1234)).toBe(3e-4);
  });

  it('rejects impossible schedules naming the field', () => {
    expect(() => validateSchedule({ kind: 'cosine', peakLr: -1, warmupSteps: 0, totalSteps: 10 })).toThrow(/peakLr/);
    expect(() => validateSchedule({ kind: 'wsd', peakLr: 1, warmupSteps: 20, totalSteps: 10 })).toThrow(
      /warmupSteps \(20\) exceeds totalSteps \(10\)/,
    );
  });
});

describe('global-norm clipping', () => {
  beforeAll(() => initBackend());

  it('measures √Σ‖g‖² and scales every gradient by maxNorm/‖g‖ only when above maxNorm', () => {
    const grads = new Map<string, tf.Tensor>([
      ['a', tf.tensor1d([3, 4])],
      ['b', tf.tensor1d([12])],
    ]); // norm 13
    const clipped = clipByGlobalNorm(grads, 6.5);
    expect(clipped.norm).toBeCloseTo(13, 5);
    expectClose(clipped.grads.get('a')!.dataSync(), [1.5, 2], 1e-5);
    expectClose(clipped.grads.get('b')!.dataSync(), [6], 1e-5);
    const loose = clipByGlobalNorm(grads, 100);
    expect(Array.from(loose.grads.get('b')!.dataSync())).toEqual([12]);
    tf.dispose([...grads.values(), ...clipped.grads.values(), ...loose.grads.values()]);
  });
});

function expectClose(got: ArrayLike<number>, want: readonly number[], tol: number): void {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(Math.abs(got[i]! - w)).toBeLessThan(tol));
}
