import { describe, expect, it } from 'vitest';
import { swiGluMlp, tf } from '../src/index.js';
import { refSwiGluMlp } from '../src/reference/index.js';
import { BACKENDS, runAndCount, useBackend } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';

const TOL = 1e-5;

describe.each(BACKENDS)('swiGluMlp on %s', (backend) => {
  useBackend(backend);

  it.each([
    { rows: 1, dim: 16, ffDim: 40 },
    { rows: 9, dim: 24, ffDim: 61 },
    { rows: 17, dim: 64, ffDim: 172 },
  ])('[$rows, $dim] through ff $ffDim', ({ rows, dim, ffDim }) => {
    const rand = mulberry32(rows * 7 + ffDim);
    const x = randomArray(rand, rows * dim, 2);
    const w = {
      gate: randomArray(rand, ffDim * dim, 0.5),
      up: randomArray(rand, ffDim * dim, 0.5),
      down: randomArray(rand, dim * ffDim, 0.5),
    };
    const wt = {
      gate: tf.tensor2d(w.gate, [ffDim, dim]),
      up: tf.tensor2d(w.up, [ffDim, dim]),
      down: tf.tensor2d(w.down, [dim, ffDim]),
    };
    const xt = tf.tensor2d(x, [rows, dim]);
    const got = runAndCount(() => swiGluMlp(xt, wt));
    expect(got.shape).toEqual([rows, dim]);
    expect(got.leaked).toBe(0);
    expectClose(got.data, refSwiGluMlp(x, w, { rows, dim, ffDim }), TOL);
    tf.dispose([xt, wt.gate, wt.up, wt.down]);
  });
});
