import { describe, expect, it } from 'vitest';
import { registerKernel, rmsNorm, tf, withBuiltinKernels } from '../src/index.js';
import { useBackend } from './helpers/backends.js';

describe('kernel registry', () => {
  useBackend('cpu');

  it('routes an op to the kernel registered for the active backend, and back after unregistering', async () => {
    const x = tf.tensor2d([[3, 4]]);
    const w = tf.tensor1d([1, 1]);
    const unregister = registerKernel('RecurRmsNorm', 'cpu', (input) => tf.zerosLike(input));
    expect(Array.from(rmsNorm(x, w, 0).dataSync())).toEqual([0, 0]);

    await tf.setBackend('wasm'); // registered for cpu only: wasm keeps the default composition
    const onWasm = rmsNorm(x, w, 0).dataSync();
    expect(onWasm[0]).toBeCloseTo(3 / Math.sqrt(12.5), 5);

    await tf.setBackend('cpu');
    unregister();
    expect(rmsNorm(x, w, 0).dataSync()[1]).toBeCloseTo(4 / Math.sqrt(12.5), 5);
    tf.disposeVariables();
  });

  it('withBuiltinKernels passes over registered kernels inside its callback only (autodiff sees differentiable ops)', () => {
    const x = tf.tensor2d([[3, 4]]);
    const w = tf.tensor1d([1, 1]);
    const unregister = registerKernel('RecurRmsNorm', 'cpu', (input) => tf.zerosLike(input));
    try {
      const inside = withBuiltinKernels(() => rmsNorm(x, w, 0).dataSync());
      expect(inside[0]).toBeCloseTo(3 / Math.sqrt(12.5), 5);
      expect(() =>
        withBuiltinKernels(() => {
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(Array.from(rmsNorm(x, w, 0).dataSync())).toEqual([0, 0]); // the registered kernel again, even after a throw
    } finally {
      unregister();
      tf.dispose([x, w]);
    }
  });
});
