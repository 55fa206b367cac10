import * as tf from '@tensorflow/tfjs-core';

/**
 * linear on wasm. tfjs-backend-wasm runs matMul through XNNPACK only without transpose flags; the
 * transposeB that reads an [out, in] weight in place falls to a loop ~10× slower. Computing
 * (W·xᵀ)ᵀ keeps the weight untouched and transposes only the (small) activations instead.
 */
export function linearWasm(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D | undefined): tf.Tensor2D {
  const [t, inDim] = x.shape;
  const outDim = weight.shape[0];
  return tf.tidy(() => {
    // For one row, xᵀ and yᵀ are the same memory as x and y: reshape, don't copy.
    const xt: tf.Tensor2D = t === 1 ? tf.reshape<tf.Rank.R2>(x, [inDim, 1]) : tf.transpose(x); // [in, T]
    const yt: tf.Tensor2D = tf.matMul(weight, xt); // [out, T]
    const y: tf.Tensor2D = t === 1 ? tf.reshape<tf.Rank.R2>(yt, [1, outDim]) : tf.transpose(yt); // [T, out]
    // Not tf.fused.matMul's bias: with transposeB, tfjs-backend-wasm 4.22 adds it wrongly to rows
    // after the first, so every linear kernel here adds the bias as its own op.
    return bias ? tf.add(y, bias) : y;
  });
}
