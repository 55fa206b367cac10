import { describe, expect, it } from 'vitest';
import { causalAttention, ShapeError, tf } from '../src/index.js';
import { refCausalAttention, type AttentionDims } from '../src/reference/index.js';
import { BACKENDS, runAndCount, useBackend } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';

const TOL = 1e-5;

interface Case extends AttentionDims {
  readonly name: string;
  /** Spread of q and k; large values stress the softmax's max subtraction. */
  readonly scale?: number;
}

// On wasm, cases with group·T >= 8·nKvHeads take the per-kv-head kernel, the rest the batched composite.
const CASES: Case[] = [
  { name: 'prefill, GQA 8/4, headDim 8', tokens: 7, keys: 7, heads: 8, kvHeads: 4, headDim: 8, queryOffset: 0 },
  { name: 'prefill, GQA 9/3, headDim 64', tokens: 13, keys: 13, heads: 9, kvHeads: 3, headDim: 64, queryOffset: 0 },
  { name: 'decode, GQA 8/4, headDim 64', tokens: 1, keys: 10, heads: 8, kvHeads: 4, headDim: 64, queryOffset: 9 },
  { name: 'decode, GQA 9/3, headDim 8', tokens: 1, keys: 33, heads: 9, kvHeads: 3, headDim: 8, queryOffset: 32 },
  { name: 'chunked prefill, GQA 9/3', tokens: 5, keys: 12, heads: 9, kvHeads: 3, headDim: 8, queryOffset: 7 },
  {
    name: 'chunked prefill, GQA 8/4, headDim 64',
    tokens: 4,
    keys: 21,
    heads: 8,
    kvHeads: 4,
    headDim: 64,
    queryOffset: 17,
  },
  { name: 'multi-head (no grouping), odd sizes', tokens: 3, keys: 3, heads: 5, kvHeads: 5, headDim: 6, queryOffset: 0 },
  { name: 'single kv head (MQA)', tokens: 6, keys: 6, heads: 4, kvHeads: 1, headDim: 8, queryOffset: 0 },
  { name: 'first token', tokens: 1, keys: 1, heads: 8, kvHeads: 4, headDim: 8, queryOffset: 0 },
  {
    name: 'keys beyond the last query are hidden',
    tokens: 3,
    keys: 10,
    heads: 4,
    kvHeads: 2,
    headDim: 8,
    queryOffset: 2,
  },
  {
    name: 'large scores (softmax stability)',
    tokens: 9,
    keys: 9,
    heads: 8,
    kvHeads: 4,
    headDim: 64,
    queryOffset: 0,
    scale: 30,
  },
  {
    name: 'large scores, long prefill',
    tokens: 33,
    keys: 33,
    heads: 9,
    kvHeads: 3,
    headDim: 8,
    queryOffset: 0,
    scale: 30,
  },
  {
    name: 'long prefill, GQA 8/4, headDim 64',
    tokens: 40,
    keys: 40,
    heads: 8,
    kvHeads: 4,
    headDim: 64,
    queryOffset: 0,
  },
  { name: 'long chunk, GQA 9/3, headDim 8', tokens: 24, keys: 50, heads: 9, kvHeads: 3, headDim: 8, queryOffset: 26 },
];

function inputs(c: Case): { q: Float32Array; k: Float32Array; v: Float32Array } {
  const rand = mulberry32(c.tokens * 1009 + c.keys * 31 + c.heads + c.headDim);
  return {
    q: randomArray(rand, c.tokens * c.heads * c.headDim, c.scale ?? 1),
    k: randomArray(rand, c.keys * c.kvHeads * c.headDim, c.scale ?? 1),
    v: randomArray(rand, c.keys * c.kvHeads * c.headDim),
  };
}

function tensors(c: Case, d: ReturnType<typeof inputs>): [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D] {
  return [
    tf.tensor3d(d.q, [c.tokens, c.heads, c.headDim]), // [T, nHeads, headDim]
    tf.tensor3d(d.k, [c.keys, c.kvHeads, c.headDim]), // [S, nKvHeads, headDim]
    tf.tensor3d(d.v, [c.keys, c.kvHeads, c.headDim]), // [S, nKvHeads, headDim]
  ];
}

describe.each(BACKENDS)('causalAttention on %s', (backend) => {
  useBackend(backend);

  it.each(CASES)('$name', (c) => {
    const data = inputs(c);
    const [q, k, v] = tensors(c, data);
    const got = runAndCount(() => causalAttention(q, k, v, { queryOffset: c.queryOffset }));
    expect(got.shape).toEqual([c.tokens, c.heads * c.headDim]);
    expect(got.leaked).toBe(0);
    expectClose(got.data, refCausalAttention(data.q, data.k, data.v, c), TOL);
    tf.dispose([q, k, v]);
  });

  it('a chunk at offset S−T reproduces the last rows of the full prefill', () => {
    const full: Case = { name: 'full', tokens: 11, keys: 11, heads: 9, kvHeads: 3, headDim: 8, queryOffset: 0 };
    const [q, k, v] = tensors(full, inputs(full));
    const whole = runAndCount(() => causalAttention(q, k, v, { queryOffset: 0 }));
    const tail = tf.slice(q, [7, 0, 0], [4, -1, -1]); // [4, nHeads, headDim]
    const chunk = runAndCount(() => causalAttention(tail, k, v, { queryOffset: 7 }));
    expectClose(chunk.data, whole.data.subarray(7 * 72), 1e-6);
    tf.dispose([q, k, v, tail]);
  });

  it('rejects heads that do not group evenly', () => {
    const [q, k] = [tf.zeros([2, 6, 8]) as tf.Tensor3D, tf.zeros([2, 4, 8]) as tf.Tensor3D];
    expect(() => causalAttention(q, k, k, { queryOffset: 0 })).toThrow(ShapeError);
    tf.dispose([q, k]);
  });
});
