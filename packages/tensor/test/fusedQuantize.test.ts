import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedOps, initBackend, quantizeRowsQ8, tf } from '../src/index.js';
import { QuantizeParams } from '../src/fused/kernels/index.js';
import { mulberry32, randomArray } from './helpers/prng.js';

/**
 * The quantizeRows kernel (prefill's activation quantization, on the pool) against quantizeRowsQ8,
 * the plain reference: bitwise equal quants (int8, and widened to i16), f16-rounded scales and block
 * sums, over rows with very different magnitudes (f16 subnormal scales and an all-zero block included).
 */
describe('quantizeRows kernel', () => {
  let ops: FusedOps;
  const kept: tf.Tensor[] = [];
  let baseline = 0;
  beforeAll(async () => {
    expect(await initBackend({ backend: 'wasm', threads: 2 })).toBe('wasm');
    baseline = tf.memory().numTensors;
    const created = await FusedOps.create();
    if (!created) throw new Error('no fused runtime on wasm');
    ops = created;
  });
  afterAll(() => {
    tf.dispose(kept);
    ops.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });
  /** A 16-aligned block of `bytes` in the heap. */
  const alloc = (bytes: number): number => {
    const { tensor, offset } = ops.runtime.alloc(Math.ceil(bytes / 4) + 4);
    kept.push(tensor);
    return Math.ceil(offset / 16) * 16;
  };

  for (const wide of [false, true])
    it(`${wide ? 'i16' : 'int8'} quants, scales and sums equal quantizeRowsQ8's`, () => {
      const [T, k, stride] = [19, 160, 168]; // rows 8 floats wider than k: the kernel honours XStride
      const rand = mulberry32(wide ? 7 : 8);
      const x = randomArray(rand, T * stride);
      for (let t = 0; t < T; t++) for (let j = 0; j < stride; j++) x[t * stride + j]! *= 10 ** (t - 9); // 1e-9 … 1e9
      x.fill(0, 3 * stride, 3 * stride + 32); // an all-zero block: scale 0, quants 0
      const [px, pq, ps, pc, pp] = [alloc(x.byteLength), alloc(T * k * 2), alloc(T * k), alloc(T * k), alloc(64)];
      const { f32, i32 } = ops.runtime;
      f32.set(x, px >> 2);
      i32.set([px, stride * 4, k, pq, wide ? 1 : 0, ps, pc], (pp >> 2) + QuantizeParams.X);
      ops.runtime.pool.run([{ kernel: 'quantizeRows', params: pp, items: T, chunk: 3 }]);
      const buffer = ops.runtime.memory.buffer;
      const got = wide ? new Int16Array(buffer, pq, T * k).slice() : new Int8Array(buffer, pq, T * k).slice();
      const scales = new Float32Array(buffer, ps, (T * k) / 32).slice();
      const sums = new Int32Array(buffer, pc, (T * k) / 32).slice();
      const ref = new Float32Array(T * stride + (T * k) / 32);
      ref.set(x);
      const refQ = wide ? new Int16Array(T * k) : new Int8Array(T * k);
      const refSums = new Int32Array((T * k) / 32);
      quantizeRowsQ8(
        ref,
        refQ,
        { at: 0, stride, k, T },
        { at: 0, scalesAt: T * stride, sums: { i32: refSums, at: 0 } },
      );
      expect(Array.from(got)).toEqual(Array.from(refQ));
      expect(Array.from(scales)).toEqual(Array.from(ref.subarray(T * stride)));
      expect(Array.from(sums)).toEqual(Array.from(refSums));
      expect(scales.some((s) => s > 0 && s < 2 ** -14)).toBe(true); // subnormal f16 scales were exercised
    });
});
