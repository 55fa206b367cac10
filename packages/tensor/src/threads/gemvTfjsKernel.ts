import * as tf from '@tensorflow/tfjs-core';
import type { ThreadedBackendWasm } from './threadedBackend.js';

/** tfjs kernel: x [1, in] · weight [out, in]ᵀ → [1, out] on the GEMV pool of a ThreadedBackendWasm. */
export const THREADED_GEMV = 'RecurThreadedGemv';

/**
 * A real tfjs kernel rather than a side channel: the engine moves inputs onto the wasm heap, tracks
 * the output for tidy and memory accounting, and tf.grad finds the gradient below.
 */
export function registerThreadedGemv(): void {
  if (tf.getKernel(THREADED_GEMV, 'wasm') !== undefined) return;
  tf.registerKernel({
    kernelName: THREADED_GEMV,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { x, weight } = inputs as { x: tf.TensorInfo; weight: tf.TensorInfo };
      const wasm = backend as ThreadedBackendWasm;
      const pool = wasm.gemvPool;
      if (pool === undefined) throw new Error(`${THREADED_GEMV} needs a ThreadedBackendWasm with a running GEMV pool`);
      const [outDim, inDim] = weight.shape as [number, number];
      const out = wasm.makeOutput([1, outDim], 'float32'); // [1, out]
      const offset = (t: tf.TensorInfo): number =>
        (wasm.dataIdMap.get(t.dataId) as { memoryOffset: number }).memoryOffset;
      pool.gemv(offset(weight), offset(x), offset(out), outDim, inDim);
      return out;
    },
  });
  tf.registerGradient({
    kernelName: THREADED_GEMV,
    inputsToSave: ['x', 'weight'],
    gradFunc: (dy, saved) => {
      const [x, weight] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D; // [1, out]
      return { x: () => tf.matMul(g, weight), weight: () => tf.matMul(g, x, true, false) }; // [1, in], [out, in]
    },
  });
}
