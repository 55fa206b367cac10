import * as tf from '@tensorflow/tfjs-core';
import { expectShape } from '../errors.js';
import { kernelFor } from '../kernels.js';
import { linearWasm } from './wasm/linear.js';

/** x: [T, in], weight: [out, in] (Hugging Face layout), bias: [out] → [T, out] = x·Wᵀ (+ b). */
export function linear(x: tf.Tensor2D, weight: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D {
  expectShape(
    x.rank === 2 && weight.rank === 2,
    'linear',
    () => `x [${x.shape}] and weight [${weight.shape}] must both be rank 2`,
  );
  expectShape(
    x.shape[1] === weight.shape[1],
    'linear',
    () => `x [${x.shape}] has ${x.shape[1]} features but weight [${weight.shape}] expects ${weight.shape[1]}`,
  );
  expectShape(
    bias === undefined || (bias.rank === 1 && bias.shape[0] === weight.shape[0]),
    'linear',
    () => `bias [${bias?.shape}] must be [${weight.shape[0]}]`,
  );
  return kernelFor('RecurLinear', { default: linearComposite, wasm: linearWasm })(x, weight, bias);
}

function linearComposite(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D | undefined): tf.Tensor2D {
  return tf.tidy(() => {
    // transposeB reads the [out, in] weight in place: no transposed copy of the weight per call.
    const out: tf.Tensor2D = tf.matMul(x, weight, false, true); // [T, out]
    // Not tf.fused.matMul's bias: tfjs-backend-wasm 4.22 adds it wrongly with transposeB (see wasm/linear.ts).
    return bias ? tf.add(out, bias) : out;
  });
}
