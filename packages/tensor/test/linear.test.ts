import { describe, expect, it } from 'vitest';
import { linear, ShapeError, tf } from '../src/index.js';
import { refLinear } from '../src/reference/index.js';
import { BACKENDS, runAndCount, useBackend } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';

const TOL = 1e-5;

describe.each(BACKENDS)('linear on %s', (backend) => {
  useBackend(backend);

  it.each([
    { rows: 1, inDim: 8, outDim: 5, bias: false },
    { rows: 7, inDim: 13, outDim: 11, bias: true },
    { rows: 33, inDim: 64, outDim: 48, bias: true },
    { rows: 2, inDim: 96, outDim: 1, bias: false },
  ])('[$rows, $inDim] → [$rows, $outDim], bias $bias', ({ rows, inDim, outDim, bias }) => {
    const rand = mulberry32(rows * 1000 + inDim);
    const x = randomArray(rand, rows * inDim);
    const w = randomArray(rand, outDim * inDim);
    const b = bias ? randomArray(rand, outDim) : undefined;
    const [xt, wt, bt] = [tf.tensor2d(x, [rows, inDim]), tf.tensor2d(w, [outDim, inDim]), b && tf.tensor1d(b)];
    const got = runAndCount(() => linear(xt, wt, bt));
    expect(got.shape).toEqual([rows, outDim]);
    expect(got.leaked).toBe(0);
    expectClose(got.data, refLinear(x, w, b, { rows, inDim, outDim }), TOL);
    tf.dispose([xt, wt, bt ?? []]);
  });

  it('rejects mismatched feature sizes', () => {
    const [x, w] = [tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([4, 5]) as tf.Tensor2D];
    expect(() => linear(x, w)).toThrow(ShapeError);
    tf.dispose([x, w]);
  });
});
