import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@recur/tensor';
import { registerGradients } from '@recur/train';
import {
  activeAtRecursion,
  balancingLoss,
  depthLoads,
  initTokenRouter,
  routeTokenChoice,
  routerTensors,
  tokenRouterKey,
  updateBalancingBias,
  type TokenChoiceRouting,
} from '../src/index.js';

// Router [N_r = 3, d = 2]: logits = [h0, h1, −h0 − h1].
const W = [
  [1, 0],
  [0, 1],
  [-1, -1],
];
const H = [
  [2, 0],
  [0, 2],
  [-1, -1],
  [0, 0],
]; // logits [2,0,−2], [0,2,−2], [−1,−1,2], [0,0,0]
const softmax = (xs: number[]): number[] => {
  const z = xs.reduce((s, x) => s + Math.exp(x), 0);
  return xs.map((x) => Math.exp(x) / z);
};
const dispose = (r: TokenChoiceRouting): void => tf.dispose([r.logits, r.probs, r.gate]);

describe('token-choice router', () => {
  beforeAll(async () => {
    await initBackend();
    registerGradients();
  });

  it('top-1 depth per token, gate = chosen probability, ties to the shallower depth', () => {
    const params = new Map<string, tf.Tensor>([[tokenRouterKey, tf.tensor2d(W)]]);
    const h = tf.tensor2d(H);
    const before = tf.memory().numTensors;
    const r = routeTokenChoice(params, h);
    expect([...r.depths]).toEqual([1, 2, 3, 1]);
    const expected = [softmax([2, 0, -2])[0]!, softmax([0, 2, -2])[1]!, softmax([-1, -1, 2])[2]!, 1 / 3];
    [...r.gate.dataSync()].forEach((g, t) => expect(g).toBeCloseTo(expected[t]!, 6));
    expect([...activeAtRecursion(r.depths, 0)]).toEqual([0, 1, 2, 3]);
    expect([...activeAtRecursion(r.depths, 1)]).toEqual([1, 2]);
    expect([...activeAtRecursion(r.depths, 2)]).toEqual([2]);
    dispose(r);
    // The bias changes the choice, never the gate's probabilities.
    const biased = routeTokenChoice(params, h, { bias: Float32Array.of(0, 0, 5) });
    expect([...biased.depths]).toEqual([3, 3, 3, 3]);
    expect(biased.gate.dataSync()[0]).toBeCloseTo(softmax([2, 0, -2])[2]!, 6);
    dispose(biased);
    // Warm-up: everyone at full depth while step < warmupSteps.
    const warm = routeTokenChoice(params, h, { step: 4, warmupSteps: 5 });
    expect([...warm.depths]).toEqual([3, 3, 3, 3]);
    dispose(warm);
    const after = routeTokenChoice(params, h, { step: 5, warmupSteps: 5 });
    expect([...after.depths]).toEqual([1, 2, 3, 1]);
    dispose(after);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([h, ...params.values()]);
  });

  it('balancing loss: coef·N_r·Σ P_i·f_i on a hand-built case', () => {
    const probs = tf.tensor2d([
      [0.5, 0.5],
      [0.2, 0.8],
      [0.9, 0.1],
    ]);
    const depths = Int32Array.of(1, 2, 1);
    const before = tf.memory().numTensors;
    // P = [1.6/3, 1.4/3], f = [2/3, 1/3]: 2·(3.2 + 1.4)/9.
    const loss = balancingLoss(probs, depths, { coef: 1 });
    expect(loss.dataSync()[0]).toBeCloseTo(9.2 / 9, 6);
    loss.dispose();
    const scaled = balancingLoss(probs, depths);
    expect(scaled.dataSync()[0]).toBeCloseTo(0.1 * (9.2 / 9), 6);
    scaled.dispose();
    const uniform = tf.fill([4, 2], 0.5) as tf.Tensor2D;
    const even = balancingLoss(uniform, Int32Array.of(1, 2, 1, 2), { coef: 1 });
    expect(even.dataSync()[0]).toBeCloseTo(1, 6); // balanced routing costs exactly 1
    tf.dispose([uniform, even]);
    expect(tf.memory().numTensors).toBe(before);
    probs.dispose();
  });

  it('the loss-free bias is added to the probabilities (as the public MoR code does), not the logits', () => {
    const params = new Map<string, tf.Tensor>([[tokenRouterKey, tf.tensor2d(W)]]);
    const h = tf.tensor2d([H[0]!]); // logits [2, 0, −2], probs ≈ [0.867, 0.117, 0.016]
    // +0.8 on depth 2: 0.117 + 0.8 > 0.867 on probabilities; 0 + 0.8 < 2 on logits.
    const r = routeTokenChoice(params, h, { bias: Float32Array.of(0, 0.8, 0) });
    expect([...r.depths]).toEqual([2]);
    expect(r.gate.dataSync()[0]).toBeCloseTo(softmax([2, 0, -2])[1]!, 6);
    dispose(r);
    tf.dispose([h, ...params.values()]);
  });

  it('loss-free bias: b_i += u·sign(mean load − load_i)', () => {
    const depths = Int32Array.of(1, 1, 1, 2); // loads [3, 1, 0], mean 4/3
    expect([...depthLoads(depths, 3)]).toEqual([3, 1, 0]);
    const next = updateBalancingBias(Float32Array.of(0, 0.5, -0.5), depths, { rate: 0.01 });
    expect([...next].map((b) => Number(b.toFixed(6)))).toEqual([-0.01, 0.51, -0.49]);
    expect([...updateBalancingBias(new Float32Array(2), Int32Array.of(1, 2))]).toEqual([0, 0]); // balanced: unchanged
    expect(updateBalancingBias(new Float32Array(2), depths.subarray(0, 2))[0]).toBeCloseTo(-1e-3, 9); // default u
    expect(() => depthLoads(Int32Array.of(4), 3)).toThrow(/outside 1..3/);
  });

  it('gradients reach the router weight through the balancing loss and the gate', () => {
    const w0 = routerTensors(initTokenRouter({ hiddenSize: 2, numRecursions: 3, std: 1, seed: 2 })).get(
      tokenRouterKey,
    )!;
    const h = tf.tensor2d(H);
    const before = tf.memory().numTensors;
    const [g] = tf.grads((w: tf.Tensor) =>
      tf.tidy(() => {
        const r = routeTokenChoice(new Map([[tokenRouterKey, w]]), h);
        return tf.add(balancingLoss(r.probs, r.depths), tf.sum(r.gate)) as tf.Scalar;
      }),
    )([w0]);
    const grad = [...g!.dataSync()];
    expect(grad.every(Number.isFinite)).toBe(true);
    expect(Math.max(...grad.map(Math.abs))).toBeGreaterThan(1e-4);
    g!.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([w0, h]);
  });
});
