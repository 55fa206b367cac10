import * as tf from '@tensorflow/tfjs-core';
import { expectShape } from '../errors.js';
import { kernelFor } from '../kernels.js';

/** x: [..., d], weight: [d] → x / sqrt(mean(x²) + eps) · weight, same shape as x, in float32. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor1D, eps: number): tf.Tensor {
  const d = x.shape[x.rank - 1];
  expectShape(
    x.rank >= 1 && weight.rank === 1 && weight.shape[0] === d,
    'rmsNorm',
    () => `weight [${weight.shape}] must be [${d}] to match x [${x.shape}]`,
  );
  expectShape(
    x.dtype === 'float32' && weight.dtype === 'float32',
    'rmsNorm',
    () => `expects float32 tensors, got x ${x.dtype} and weight ${weight.dtype}`,
  );
  return kernelFor('RecurRmsNorm', { default: rmsNormComposite })(x, weight, eps);
}

function rmsNormComposite(x: tf.Tensor, weight: tf.Tensor1D, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const meanSquare = tf.mean(tf.square(x), -1, true); // [..., 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight); // [..., d]
  });
}
