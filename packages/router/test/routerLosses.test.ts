import { beforeAll, describe, expect, it } from 'vitest';
import { gaussianArray, initBackend, tf } from '@recur/tensor';
import { registerGradients } from '@recur/train';
import {
  expertRouterPrefix,
  initScalarRouter,
  routeExpertChoice,
  routerTensors,
  routerZLoss,
  scalarRouterLogits,
  scatterGatedUpdate,
  selectionBceLoss,
} from '../src/index.js';

const value = (s: tf.Scalar): number => {
  const v = s.dataSync()[0] ?? NaN;
  s.dispose();
  return v;
};
const softplus = (x: number): number => Math.log1p(Math.exp(x));

describe('expert-choice router losses', () => {
  beforeAll(async () => {
    await initBackend();
    registerGradients();
  });

  it('BCE on "was selected" equals the hand-computed value, stable at large logits', () => {
    const logits = tf.tensor1d([0, 2, -3, 40, -40]);
    const before = tf.memory().numTensors;
    // −ln σ(0) = ln 2; −ln(1 − σ(2)) = softplus(2); −ln σ(−3) =
    // softplus(3); −ln σ(40) ≈ e^−40; −ln(1 − σ(−40)) ≈ e^−40.
    const expected = (Math.LN2 + softplus(2) + softplus(3) + 2 * Math.exp(-40)) / 5;
    expect(value(selectionBceLoss(logits, [1, 0, 1, 1, 0], { coef: 1 }))).toBeCloseTo(expected, 6);
    expect(value(selectionBceLoss(logits, [1, 0, 1, 1, 0]))).toBeCloseTo(1e-3 * expected, 9); // default coef 1e-3
    const extreme = tf.tensor1d([40, -40]);
    expect(value(selectionBceLoss(extreme, [0, 1], { coef: 1 }))).toBeCloseTo(40, 4); // no overflow to Infinity
    extreme.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => selectionBceLoss(logits, [1, 0])).toThrow(/2 targets for 5 logits/);
    logits.dispose();
  });

  it('z-loss: mean x² for sigmoid routers, (logsumexp)² for softmax scoring', () => {
    const logits = tf.tensor1d([1, -2, 3]);
    const before = tf.memory().numTensors;
    expect(value(routerZLoss(logits, 'sigmoid', { coef: 1 }))).toBeCloseTo(14 / 3, 5);
    const lse = Math.log(Math.E + Math.exp(-2) + Math.exp(3));
    expect(value(routerZLoss(logits, 'softmax', { coef: 1 }))).toBeCloseTo(lse * lse, 5);
    expect(value(routerZLoss(logits))).toBeCloseTo(1e-3 * (14 / 3), 8);
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });

  it('BCE and z-loss gradients equal their closed forms', () => {
    const x = tf.tensor1d([0.5, -1, 2]);
    const y = [1, 0, 0];
    const [gBce] = tf.grads((l: tf.Tensor) => selectionBceLoss(l as tf.Tensor1D, y, { coef: 1 }))([x]);
    [...gBce!.dataSync()].forEach((g, i) =>
      expect(g).toBeCloseTo((1 / (1 + Math.exp(-[0.5, -1, 2][i]!)) - y[i]!) / 3, 6),
    );
    const [gZ] = tf.grads((l: tf.Tensor) => routerZLoss(l as tf.Tensor1D, 'softmax', { coef: 1 }))([x]);
    const xs = [0.5, -1, 2];
    const lse = Math.log(xs.reduce((s, v) => s + Math.exp(v), 0));
    [...gZ!.dataSync()].forEach((g, i) => expect(g).toBeCloseTo(2 * lse * Math.exp(xs[i]! - lse), 5)); // 2·lse·softmax
    tf.dispose([x, gBce!, gZ!]);
  });

  it('BCE gradient wrt the router weight matches central finite differences (linear and MLP)', () => {
    const d = 6;
    const tokens = 8;
    const h = tf.tensor2d(gaussianArray(tokens * d, 7), [tokens, d]); // [T, d]
    const mask = [1, 0, 0, 1, 1, 0, 1, 0];
    for (const architecture of ['linear', 'mlp'] as const) {
      const arrays = initScalarRouter('r', { hiddenSize: d, architecture, mlpHidden: 3, std: 0.5, seed: 3 });
      const key = architecture === 'linear' ? 'r.weight' : 'r.fc1.weight';
      const base = routerTensors(arrays);
      const loss = (w: tf.Tensor): tf.Scalar =>
        tf.tidy(() => {
          const params = new Map(base).set(key, w);
          return selectionBceLoss(scalarRouterLogits(params, 'r', h), mask, { coef: 1 });
        });
      const w0 = base.get(key)!;
      const [g] = tf.grads((w: tf.Tensor) => loss(w))([w0]);
      const analytic = g!.dataSync();
      const data = w0.dataSync();
      const eps = 1e-2;
      for (let i = 0; i < data.length; i++) {
        const plus = data.slice();
        const minus = data.slice();
        plus[i] = plus[i]! + eps;
        minus[i] = minus[i]! - eps;
        const [wp, wm] = [tf.tensor(plus, w0.shape), tf.tensor(minus, w0.shape)];
        const numeric = (value(loss(wp)) - value(loss(wm))) / (2 * eps);
        expect(Math.abs(numeric - analytic[i]!)).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric));
        tf.dispose([wp, wm]);
      }
      expect(Math.max(...[...analytic].map(Math.abs))).toBeGreaterThan(1e-3);
      tf.dispose([g!, ...base.values()]);
    }
    h.dispose();
  });

  it('gradients reach the router through the gate of the scattered update', () => {
    const d = 4;
    const h = tf.tensor2d(gaussianArray(6 * d, 9), [6, d]); // [T, d]
    const base = routerTensors(initScalarRouter(expertRouterPrefix(1), { hiddenSize: d, std: 1, seed: 4 }));
    const key = `${expertRouterPrefix(1)}.weight`;
    const before = tf.memory().numTensors;
    const [g] = tf.grads((w: tf.Tensor) =>
      tf.tidy(() => {
        const decision = routeExpertChoice(new Map(base).set(key, w), h, null, { recursion: 1, numRecursions: 2 });
        // a stand-in block: [k, d]
        const blockOut = tf.mul(tf.gather(h, tf.tensor1d(decision.selected, 'int32')), 2) as tf.Tensor2D;
        return tf.sum(tf.square(scatterGatedUpdate(h, decision.selected, blockOut, decision.gate))) as tf.Scalar;
      }),
    )([base.get(key)!]);
    const grad = [...g!.dataSync()];
    expect(grad.every(Number.isFinite)).toBe(true);
    expect(Math.max(...grad.map(Math.abs))).toBeGreaterThan(1e-4);
    g!.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([h, ...base.values()]);
  });
});
