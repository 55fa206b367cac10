import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Mulberry32, tf } from '@recur/tensor';
import { combineAtoms, combineAtomsReference } from '../src/index.js';
import { maxAbsDiff } from './fixtures.js';

beforeAll(async () => {
  await initBackend();
});

const draw = (n: number, random: Mulberry32) => Float32Array.from({ length: n }, () => random.next() - 0.5);

describe('combineAtoms (W_l = Σ_s c[l, s]·D_s)', () => {
  it('matches the float64 reference for every layer within 1e-6', () => {
    const random = new Mulberry32(3);
    const [count, layers, out, inner] = [3, 5, 6, 4];
    const atoms = draw(count * out * inner, random);
    const coefficients = draw(layers * count, random);
    const expected = combineAtomsReference(atoms, coefficients, { atoms: count, layers, size: out * inner });
    const before = tf.memory().numTensors;
    const a = tf.tensor3d(atoms, [count, out, inner]);
    const c = tf.tensor2d(coefficients, [layers, count]);
    for (let l = 0; l < layers; l++) {
      const w = tf.tidy(() => combineAtoms(a, c, l));
      expect(w.shape).toEqual([out, inner]);
      expect(maxAbsDiff(w.dataSync(), expected.subarray(l * out * inner, (l + 1) * out * inner))).toBeLessThan(1e-6);
      w.dispose();
    }
    tf.dispose([a, c]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the reference is the plain double sum, term by term', () => {
    // two atoms [1, 2] and [10, 20]; layer 0 = 1·D0 + 0.5·D1, layer 1 = −2·D0
    const w = combineAtomsReference([1, 2, 10, 20], [1, 0.5, -2, 0], { atoms: 2, layers: 2, size: 2 });
    expect([...w]).toEqual([6, 12, -2, -4]);
  });

  it('refuses a layer outside the coefficients and atoms that do not fit', () => {
    const a = tf.zeros([2, 2, 2]) as tf.Tensor3D;
    const c = tf.zeros([3, 2]) as tf.Tensor2D;
    expect(() => combineAtoms(a, c, 3)).toThrow(/layer 3 outside 0\.\.2/);
    const wrong = tf.zeros([3, 3]) as tf.Tensor2D;
    expect(() => combineAtoms(a, wrong, 0)).toThrow(/3 coefficients per layer for 2 atoms/);
    tf.dispose([a, c, wrong]);
  });
});
