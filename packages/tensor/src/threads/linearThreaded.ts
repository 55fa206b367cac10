import * as tf from '@tensorflow/tfjs-core';
import { linearWasm } from '../ops/wasm/linear.js';
import { THREADED_GEMV } from './gemvTfjsKernel.js';
import { ThreadedBackendWasm } from './threadedBackend.js';

/**
 * RecurLinear on the threaded wasm backend. One row (decode) is a GEMV that reads each weight once:
 * XNNPACK's W·xᵀ with a 1-column "weight" wastes most of its micro-kernel (≈2 GFLOP/s), so it runs
 * on our GEMV pool, rows split across threads, straight from the tfjs heap. Several rows go to
 * linearWasm, whose matMul XNNPACK now spreads over all threads.
 */
export function linearThreaded(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D | undefined): tf.Tensor2D {
  const backend = tf.backend();
  const gemv =
    x.shape[0] === 1 &&
    x.dtype === 'float32' &&
    weight.dtype === 'float32' &&
    backend instanceof ThreadedBackendWasm &&
    backend.gemvPool !== undefined;
  if (!gemv) return linearWasm(x, weight, bias);
  return tf.tidy(() => {
    const y: tf.Tensor2D = tf.engine().runKernel(THREADED_GEMV, { x, weight }); // [1, out]
    return bias ? tf.add(y, bias) : y;
  });
}
