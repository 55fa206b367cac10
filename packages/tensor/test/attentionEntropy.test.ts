import { describe, expect, it } from 'vitest';
import { attentionEntropy, ShapeError, tf } from '../src/index.js';
import { refAttentionEntropy, type EntropyDims } from '../src/reference/index.js';
import { BACKENDS, runAndCount, useBackend } from './helpers/backends.js';
import { mulberry32, randomArray } from './helpers/prng.js';

const CASES: (EntropyDims & { name: string; scale: number })[] = [
  { name: 'GQA 8/4, headDim 8', tokens: 7, heads: 8, kvHeads: 4, headDim: 8, scale: 1 },
  { name: 'MHA 3/3, odd sizes', tokens: 5, heads: 3, kvHeads: 3, headDim: 6, scale: 2 },
  { name: 'sharp scores (near-saturated rows)', tokens: 9, heads: 4, kvHeads: 1, headDim: 16, scale: 6 },
  { name: 'one token (entropy 0)', tokens: 1, heads: 2, kvHeads: 1, headDim: 4, scale: 1 },
];

for (const backend of BACKENDS) {
  describe(`attentionEntropy on ${backend}`, () => {
    useBackend(backend);
    for (const c of CASES) {
      it(`matches the float64 reference: ${c.name}`, () => {
        const rand = mulberry32(c.tokens * 31 + c.heads);
        const q = randomArray(rand, c.tokens * c.heads * c.headDim, c.scale);
        const k = randomArray(rand, c.tokens * c.kvHeads * c.headDim, c.scale);
        const { data, shape, leaked } = runAndCount(() =>
          attentionEntropy(
            tf.tensor3d(q, [c.tokens, c.heads, c.headDim]),
            tf.tensor3d(k, [c.tokens, c.kvHeads, c.headDim]),
          ),
        );
        const expected = refAttentionEntropy(q, k, c);
        expect(shape).toEqual([]);
        expect(Math.abs((data[0] as number) - expected)).toBeLessThan(1e-5 * Math.max(1, expected));
        expect(leaked).toBe(2); // the two inputs made here; the op itself keeps nothing
      });
    }

    it('is ln(t+1) averaged over rows when every score is equal (uniform attention)', () => {
      const t = 6;
      const got = tf.tidy(() => attentionEntropy(tf.zeros([t, 2, 4]), tf.zeros([t, 1, 4])).dataSync()[0] as number);
      const expected = Array.from({ length: t }, (_, i) => Math.log(i + 1)).reduce((a, b) => a + b, 0) / t;
      expect(got).toBeCloseTo(expected, 6);
    });

    it('refuses q and k that are not one causal self-attention', () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        expect(() => attentionEntropy(tf.zeros([4, 3, 8]), tf.zeros([4, 2, 8]))).toThrow(ShapeError);
        expect(() => attentionEntropy(tf.zeros([4, 2, 8]), tf.zeros([5, 1, 8]))).toThrow(ShapeError);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}
