import { describe, expect, it } from 'vitest';
import {
  applyAttentionProbabilities,
  attentionMapSimilarity,
  attentionProbabilities,
  causalAttention,
  ShapeError,
  tf,
} from '../src/index.js';
import {
  refApplyAttentionProbabilities,
  refAttentionMapSimilarity,
  refAttentionProbabilities,
  type AttentionMapDims,
} from '../src/reference/index.js';
import { BACKENDS, useBackend } from './helpers/backends.js';
import { mulberry32, randomArray } from './helpers/prng.js';

const CASES: (AttentionMapDims & { name: string })[] = [
  { name: 'prefill, GQA 8/4', tokens: 6, keys: 6, heads: 8, kvHeads: 4, headDim: 8, queryOffset: 0 },
  { name: 'a chunk after 3 cached keys, MHA', tokens: 2, keys: 5, heads: 3, kvHeads: 3, headDim: 4, queryOffset: 3 },
  { name: 'one decode row', tokens: 1, keys: 7, heads: 4, kvHeads: 1, headDim: 6, queryOffset: 6 },
];

function maxDiff(got: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++)
    worst = Math.max(worst, Math.abs((got[i] as number) - (expected[i] as number)));
  return worst;
}

for (const backend of BACKENDS) {
  describe(`attention maps (EchoAtt) on ${backend}`, () => {
    useBackend(backend);
    for (const c of CASES) {
      it(`probabilities, their reuse on other values and map similarity match float64: ${c.name}`, () => {
        const rand = mulberry32(c.tokens * 17 + c.keys);
        const q = randomArray(rand, c.tokens * c.heads * c.headDim, 1.5);
        const k = randomArray(rand, c.keys * c.kvHeads * c.headDim, 1.5);
        const k2 = randomArray(rand, c.keys * c.kvHeads * c.headDim, 1.5);
        const v = randomArray(rand, c.keys * c.kvHeads * c.headDim, 1);
        const before = tf.memory().numTensors;
        tf.tidy(() => {
          const qt = tf.tensor3d(q, [c.tokens, c.heads, c.headDim]);
          const kt = tf.tensor3d(k, [c.keys, c.kvHeads, c.headDim]);
          const vt = tf.tensor3d(v, [c.keys, c.kvHeads, c.headDim]);
          const p = attentionProbabilities(qt, kt, c.queryOffset); // [heads, T, S]
          const refP = refAttentionProbabilities(q, k, c);
          expect(p.shape).toEqual([c.heads, c.tokens, c.keys]);
          expect(maxDiff(p.dataSync(), refP)).toBeLessThan(1e-6);
          const out = applyAttentionProbabilities(p, vt);
          expect(maxDiff(out.dataSync(), refApplyAttentionProbabilities(refP, v, c))).toBeLessThan(1e-5);
          // Reusing a step's own maps on its own values is plain causal attention.
          const direct = causalAttention(qt, kt, vt, { queryOffset: c.queryOffset });
          expect(maxDiff(out.dataSync(), direct.dataSync())).toBeLessThan(1e-5);
          const p2 = attentionProbabilities(qt, tf.tensor3d(k2, [c.keys, c.kvHeads, c.headDim]), c.queryOffset);
          const refP2 = refAttentionProbabilities(q, k2, c);
          const sim = attentionMapSimilarity(p, p2).dataSync()[0] as number;
          expect(Math.abs(sim - refAttentionMapSimilarity(refP, refP2, c))).toBeLessThan(1e-5);
          expect(attentionMapSimilarity(p, p).dataSync()[0]).toBeCloseTo(1, 6);
        });
        expect(tf.memory().numTensors).toBe(before);
      });
    }

    it('similarity is 0 for maps with disjoint support and refuses mismatched shapes', () => {
      tf.tidy(() => {
        const first = tf.tensor3d([1, 0, 0, 1], [1, 2, 2]);
        const second = tf.tensor3d([0, 1, 1, 0], [1, 2, 2]);
        expect(attentionMapSimilarity(first, second).dataSync()[0]).toBeCloseTo(0, 6);
        expect(() => attentionMapSimilarity(first, tf.zeros([2, 2, 2]))).toThrow(ShapeError);
        expect(() => attentionProbabilities(tf.zeros([3, 2, 4]), tf.zeros([2, 1, 4]))).toThrow(ShapeError);
        expect(() => applyAttentionProbabilities(tf.zeros([2, 1, 3]), tf.zeros([4, 1, 4]))).toThrow(ShapeError);
      });
    });
  });
}
