import { describe, expect, it } from 'vitest';
import { causalAttention, positionalAttention, ShapeError, tf } from '../src/index.js';
import { refCausalAttention, refPositionalAttention } from '../src/reference/index.js';
import { BACKENDS, runAndCount, useBackend } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';

const TOL = 1e-5;

interface Case {
  readonly name: string;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly queryPositions: number[];
  readonly keyPositions: number[];
}

const CASES: Case[] = [
  {
    name: 'a subset of tokens (recursion-wise cache)',
    heads: 8,
    kvHeads: 4,
    headDim: 8,
    queryPositions: [1, 4, 5],
    keyPositions: [0, 1, 4, 5],
  },
  {
    name: 'keys out of order, gaps',
    heads: 4,
    kvHeads: 2,
    headDim: 6,
    queryPositions: [7, 3],
    keyPositions: [7, 0, 3, 9, 2],
  },
  {
    name: 'one decode query over a sparse cache',
    heads: 9,
    kvHeads: 3,
    headDim: 8,
    queryPositions: [12],
    keyPositions: [0, 2, 5, 11, 12],
  },
];

describe.each(BACKENDS)('positionalAttention on %s', (backend) => {
  useBackend(backend);

  it.each(CASES)('$name matches the float64 reference', (c) => {
    const rand = mulberry32(c.keyPositions.length * 17 + c.heads);
    const [t, s] = [c.queryPositions.length, c.keyPositions.length];
    const q = randomArray(rand, t * c.heads * c.headDim, 2);
    const k = randomArray(rand, s * c.kvHeads * c.headDim, 2);
    const v = randomArray(rand, s * c.kvHeads * c.headDim);
    const got = runAndCount(() =>
      positionalAttention(
        tf.tensor3d(q, [t, c.heads, c.headDim]),
        tf.tensor3d(k, [s, c.kvHeads, c.headDim]),
        tf.tensor3d(v, [s, c.kvHeads, c.headDim]),
        c,
      ),
    );
    expect(got.shape).toEqual([t, c.heads * c.headDim]);
    expectClose(got.data, refPositionalAttention(q, k, v, c), TOL);
  });

  it('equals causalAttention when keys are 0..S−1 and queries the last T', () => {
    const rand = mulberry32(5);
    const dims = { tokens: 4, keys: 9, heads: 4, kvHeads: 2, headDim: 8, queryOffset: 5 };
    const q = randomArray(rand, 4 * 4 * 8);
    const k = randomArray(rand, 9 * 2 * 8);
    const v = randomArray(rand, 9 * 2 * 8);
    const [qt, kt, vt] = [tf.tensor3d(q, [4, 4, 8]), tf.tensor3d(k, [9, 2, 8]), tf.tensor3d(v, [9, 2, 8])];
    const positional = runAndCount(() =>
      positionalAttention(qt, kt, vt, { queryPositions: [5, 6, 7, 8], keyPositions: [0, 1, 2, 3, 4, 5, 6, 7, 8] }),
    );
    const causal = runAndCount(() => causalAttention(qt, kt, vt, { queryOffset: 5 }));
    expectClose(positional.data, causal.data, TOL);
    expectClose(positional.data, refCausalAttention(q, k, v, dims), TOL);
    tf.dispose([qt, kt, vt]);
  });

  it('refuses a query that sees no key, and position counts that do not match', () => {
    const q = tf.zeros([1, 2, 4]) as tf.Tensor3D;
    const kv = tf.zeros([2, 1, 4]) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    expect(() => positionalAttention(q, kv, kv, { queryPositions: [0], keyPositions: [3, 4] })).toThrow(/sees no key/);
    expect(() => positionalAttention(q, kv, kv, { queryPositions: [0, 1], keyPositions: [0, 1] })).toThrow(ShapeError);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, kv]);
  });
});
