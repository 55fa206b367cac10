import { describe, expect, it } from 'vitest';
import { applyRope, ropeInverseFrequencies, ShapeError, tf, type RopeScaling } from '../src/index.js';
import { refApplyRope } from '../src/reference/index.js';
import { BACKENDS, runAndCount, useBackend } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';

const TOL = 1e-5;
const llama3: RopeScaling = {
  type: 'llama3',
  factor: 8,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositionEmbeddings: 64,
};

describe.each(BACKENDS)('applyRope on %s', (backend) => {
  useBackend(backend);

  it.each([
    { name: 'prefill, headDim 8', tokens: 6, heads: 8, headDim: 8, start: 0, scaling: null },
    { name: 'odd heads, headDim 64', tokens: 5, heads: 3, headDim: 64, start: 0, scaling: null },
    { name: 'decode at position 1000', tokens: 1, heads: 4, headDim: 64, start: 1000, scaling: null },
    {
      name: 'chunk at 37, linear scaling',
      tokens: 9,
      heads: 9,
      headDim: 8,
      start: 37,
      scaling: { type: 'linear', factor: 2 } as RopeScaling,
    },
    { name: 'llama3 scaling', tokens: 4, heads: 2, headDim: 64, start: 500, scaling: llama3 },
  ])('$name', ({ tokens, heads, headDim, start, scaling }) => {
    const rand = mulberry32(tokens * 31 + headDim + start);
    const x = randomArray(rand, tokens * heads * headDim);
    const positions = Int32Array.from({ length: tokens }, (_, i) => start + i);
    const invFreq = ropeInverseFrequencies({ headDim, theta: 10_000, scaling });
    const xt = tf.tensor3d(x, [tokens, heads, headDim]);
    const got = runAndCount(() => applyRope(xt, positions, invFreq));
    expect(got.shape).toEqual([tokens, heads, headDim]);
    expect(got.leaked).toBe(0);
    expectClose(got.data, refApplyRope(x, positions, invFreq, { tokens, heads, headDim }), TOL);
    xt.dispose();
  });

  it('takes arbitrary (non-contiguous) positions and is the identity at position 0', () => {
    const x = randomArray(mulberry32(7), 3 * 2 * 8);
    const positions = Int32Array.of(0, 12, 5);
    const invFreq = ropeInverseFrequencies({ headDim: 8, theta: 10_000, scaling: null });
    const xt = tf.tensor3d(x, [3, 2, 8]);
    const got = runAndCount(() => applyRope(xt, positions, invFreq));
    expectClose(got.data, refApplyRope(x, positions, invFreq, { tokens: 3, heads: 2, headDim: 8 }), TOL);
    expectClose(got.data.subarray(0, 16), x.subarray(0, 16), 1e-7);
    xt.dispose();
  });

  it('rejects invFreq that does not match headDim', () => {
    const xt = tf.zeros([2, 1, 8]) as tf.Tensor3D;
    expect(() => applyRope(xt, Int32Array.of(0, 1), new Float32Array(3))).toThrow(ShapeError);
    xt.dispose();
  });
});
