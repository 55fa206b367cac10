import '@tensorflow/tfjs-core/dist/register_all_gradients.js'; // tfjs-core alone registers no gradients
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, linear, tf, wasmThreads } from '../src/index.js';
import { refLinear } from '../src/reference/index.js';
import { expectClose } from './helpers/close.js';
import { mulberry32, randomArray } from './helpers/prng.js';

const TOL = 1e-5;

// T = 1 runs on the GEMV pool (parallel from 64K weights; odd k exercises the 4-wide and scalar
// tails); T > 1 on XNNPACK's threaded matMul.
const CASES = [
  { rows: 1, inDim: 576, outDim: 1536, bias: false },
  { rows: 1, inDim: 1536, outDim: 576, bias: true },
  { rows: 1, inDim: 257, outDim: 515, bias: false },
  { rows: 1, inDim: 100, outDim: 1000, bias: true },
  { rows: 1, inDim: 13, outDim: 7, bias: false },
  { rows: 4, inDim: 576, outDim: 1536, bias: true },
  { rows: 33, inDim: 64, outDim: 48, bias: false },
  { rows: 256, inDim: 576, outDim: 1536, bias: false },
] as const;

type Case = (typeof CASES)[number];

function inputs({ rows, inDim, outDim, bias }: Case): {
  x: Float32Array;
  w: Float32Array;
  b: Float32Array | undefined;
} {
  const rand = mulberry32(rows * 7919 + inDim * 31 + outDim);
  return {
    x: randomArray(rand, rows * inDim),
    w: randomArray(rand, outDim * inDim),
    b: bias ? randomArray(rand, outDim) : undefined,
  };
}

function runLinear(c: Case): Float32Array {
  const { x, w, b } = inputs(c);
  const [xt, wt, bt] = [tf.tensor2d(x, [c.rows, c.inDim]), tf.tensor2d(w, [c.outDim, c.inDim]), b && tf.tensor1d(b)];
  const y = linear(xt, wt, bt);
  const data = y.dataSync() as Float32Array;
  tf.dispose([xt, wt, bt ?? [], y]);
  return data;
}

describe('linear on 2 wasm threads', () => {
  const singleThread = new Map<Case, Float32Array>();

  beforeAll(async () => {
    // The single-thread path first, then a fresh wasm backend on 2 threads in the same process.
    expect(await initBackend({ backend: 'wasm' })).toBe('wasm');
    expect(wasmThreads()).toBe(1);
    for (const c of CASES) singleThread.set(c, runLinear(c));
    const factory = tf.findBackendFactory('wasm');
    tf.removeBackend('wasm');
    tf.registerBackend('wasm', factory, 2);
    expect(await initBackend({ backend: 'wasm', threads: 2 })).toBe('wasm');
  });

  afterAll(() => {
    tf.removeBackend('wasm'); // stops XNNPACK's threads and the GEMV workers
  });

  it('runs on 2 threads', () => {
    expect(wasmThreads()).toBe(2);
  });

  it.each(CASES)('[$rows, $inDim] → [$rows, $outDim], bias $bias: equal to one thread and to the reference', (c) => {
    const got = runLinear(c);
    expectClose(got, singleThread.get(c) ?? [], TOL);
    const { x, w, b } = inputs(c);
    expectClose(got, refLinear(x, w, b, c), TOL);
  });

  it('sends one-row linears to the GEMV pool and leaks no tensors', async () => {
    const [x, w, b] = [
      tf.randomNormal([1, 576]) as tf.Tensor2D,
      tf.randomNormal([1536, 576]) as tf.Tensor2D,
      tf.randomNormal([1536]) as tf.Tensor1D,
    ];
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => linear(x, w, b));
    expect(profile.kernelNames).toContain('RecurThreadedGemv');
    tf.dispose(profile.result);
    expect(tf.memory().numTensors).toBe(before);
    for (const rows of [1, 5]) {
      const xs = tf.randomNormal([rows, 576]) as tf.Tensor2D;
      const start = tf.memory().numTensors;
      tf.dispose(linear(xs, w, b));
      expect(tf.memory().numTensors).toBe(start);
      xs.dispose();
    }
    tf.dispose([x, w, b]);
  });

  it('differentiates a one-row linear like the composite', () => {
    const [x, w] = [tf.randomNormal([1, 300]) as tf.Tensor2D, tf.randomNormal([400, 300]) as tf.Tensor2D];
    const loss =
      (f: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D) =>
      (...[a, b]: tf.Tensor[]): tf.Scalar =>
        tf.sum(tf.square(f(a as tf.Tensor2D, b as tf.Tensor2D)));
    const [gx, gw] = tf.grads(loss((a, b) => linear(a, b)))([x, w]);
    const [ex, ew] = tf.grads(loss((a, b) => tf.matMul(a, b, false, true)))([x, w]);
    expectClose(gx!.dataSync(), ex!.dataSync(), TOL);
    expectClose(gw!.dataSync(), ew!.dataSync(), TOL);
    tf.dispose([x, w, gx!, gw!, ex!, ew!]);
  });
});
