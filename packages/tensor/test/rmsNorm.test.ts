import { describe, expect, it } from 'vitest';
import { rmsNorm, tf } from '../src/index.js';
import { refRmsNorm } from '../src/reference/index.js';
import { BACKENDS, runAndCount, useBackend } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';

const TOL = 1e-5;

describe.each(BACKENDS)('rmsNorm on %s', (backend) => {
  useBackend(backend);

  it.each([
    { shape: [5, 64], eps: 1e-5, scale: 1 },
    { shape: [1, 17], eps: 1e-6, scale: 1 },
    { shape: [2, 3, 24], eps: 1e-5, scale: 1 }, // rank 3: normalises the last axis only
    { shape: [4, 32], eps: 1e-6, scale: 300 }, // large activations, as deep residual streams have
    { shape: [3, 8], eps: 1e-5, scale: 1e-3 }, // tiny activations: eps matters
  ])('$shape, eps $eps, scale $scale', ({ shape, eps, scale }) => {
    const dim = shape[shape.length - 1] ?? 0;
    const rows = shape.reduce((a, b) => a * b, 1) / dim;
    const rand = mulberry32(rows * 100 + dim);
    const x = randomArray(rand, rows * dim, scale);
    const w = randomArray(rand, dim, 2);
    const [xt, wt] = [tf.tensor(x, shape), tf.tensor1d(w)];
    const got = runAndCount(() => rmsNorm(xt, wt, eps));
    expect(got.shape).toEqual(shape);
    expect(got.leaked).toBe(0);
    expectClose(got.data, refRmsNorm(x, w, eps, { rows, dim }), TOL);
    tf.dispose([xt, wt]);
  });
});
