import * as tf from '@tensorflow/tfjs-core';
import { expectShape } from '../errors.js';
import { BATCHED_LORA } from './lora.js';
import { kernelsRegistered } from './state.js';

/**
 * Batched per-row LoRA: delta[r] = scale · B[index[r]] · A[index[r]] · x[r] — each row gathers its
 * own adapter, as in depth-wise batching where rows of one call sit at different loops.
 * x [R, in], a [N, rank, in], b [N, out, rank], index int32 [R] → [R, out]. The WGSL kernel on
 * WebGPU (after registerWebGpuKernels), a gather + batched matMul composite elsewhere.
 */
export function batchedLora(
  x: tf.Tensor2D,
  a: tf.Tensor3D,
  b: tf.Tensor3D,
  index: tf.Tensor1D,
  scale: number,
): tf.Tensor2D {
  const op = 'batchedLora';
  expectShape(
    x.rank === 2 && a.rank === 3 && b.rank === 3 && index.rank === 1,
    op,
    () => `x [${x.shape}], a [${a.shape}], b [${b.shape}], index [${index.shape}] must be ranks 2, 3, 3, 1`,
  );
  const [rows, inDim] = x.shape;
  const [adapters, rank, aIn] = a.shape;
  const [bAdapters, , bRank] = b.shape;
  expectShape(
    aIn === inDim && bRank === rank && bAdapters === adapters,
    op,
    () => `a [${a.shape}] and b [${b.shape}] do not fit x [${x.shape}]`,
  );
  expectShape(
    index.shape[0] === rows && index.dtype === 'int32',
    op,
    () => `index must be int32 [${rows}], got ${index.dtype} [${index.shape}]`,
  );
  if (tf.getBackend() === 'webgpu' && kernelsRegistered()) {
    return tf.engine().runKernel(BATCHED_LORA, { x, a, b, index }, { scale }) as tf.Tensor2D;
  }
  return tf.tidy(() => {
    const u = tf.matMul(tf.gather(a, index), tf.reshape(x, [rows, inDim, 1])); // [R, rank, 1]
    const y = tf.matMul(tf.gather(b, index), u); // [R, out, 1]
    return tf.mul(tf.reshape(y, [rows, b.shape[1]]), scale) as tf.Tensor2D; // [R, out]
  });
}
