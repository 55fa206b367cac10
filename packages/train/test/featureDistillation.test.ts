import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Mulberry32, tf } from '@recur/tensor';
import { featureDistillationLoss, registerGradients } from '../src/index.js';

/** Float64 reference: Σ_l ŵ_l·mean((s_l − s_last)²), ŵ = w / Σw. */
function referenceLoss(states: readonly Float64Array[], weights: readonly number[]): number {
  const teacher = states[states.length - 1]!;
  const total = weights.reduce((a, b) => a + b, 0);
  let loss = 0;
  states.slice(0, -1).forEach((s, l) => {
    let sum = 0;
    for (let i = 0; i < s.length; i++) sum += (s[i]! - teacher[i]!) ** 2;
    loss += (weights[l]! / total) * (sum / s.length);
  });
  return loss;
}

function randomStates(count: number, rows: number, width: number, seed: number): Float64Array[] {
  const rng = new Mulberry32(seed);
  return Array.from({ length: count }, () => Float64Array.from({ length: rows * width }, () => rng.next() * 2 - 1));
}

describe('featureDistillationLoss', () => {
  beforeAll(async () => {
    await initBackend();
    registerGradients();
  });

  it('matches a float64 reference with weights', () => {
    const states64 = randomStates(4, 5, 6, 3);
    const weights = [1, 0.5, 2];
    const states = states64.map((s) => tf.tensor2d(Float32Array.from(s), [5, 6]));
    const before = tf.memory().numTensors;
    const loss = featureDistillationLoss(states, { weights });
    expect(loss.dataSync()[0]).toBeCloseTo(referenceLoss(states64, weights), 5);
    loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(states);
  });

  it('sends gradient into every student and none into the deepest (teacher) state', () => {
    const states64 = randomStates(3, 4, 3, 9);
    const states = states64.map((s) => tf.tensor2d(Float32Array.from(s), [4, 3]));
    const before = tf.memory().numTensors;
    const grads = tf.grads((...xs: tf.Tensor[]) => featureDistillationLoss(xs as tf.Tensor2D[]))(states);
    const teacher = states64[2]!;
    // d/ds_l of ½·mean((s_l − t)²) summed over two students with ŵ = ½ each: (s_l − t)/n.
    for (const l of [0, 1]) {
      const got = grads[l]!.dataSync();
      const s = states64[l]!;
      for (let i = 0; i < s.length; i++) expect(got[i]).toBeCloseTo((s[i]! - teacher[i]!) / s.length, 6);
    }
    expect(Array.from(grads[2]!.dataSync()).every((g) => g === 0)).toBe(true);
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(states);
  });

  it('is zero for one state and refuses mismatched shapes', () => {
    const a = tf.ones([2, 3]) as tf.Tensor2D;
    const b = tf.ones([3, 3]) as tf.Tensor2D;
    expect(featureDistillationLoss([a]).dataSync()[0]).toBe(0);
    expect(() => featureDistillationLoss([b, a])).toThrow(/state \[3,3\] against teacher \[2,3\]/);
    tf.dispose([a, b]);
  });
});
