import * as tf from '@tensorflow/tfjs-core';
import { expectShape } from '../errors.js';
import { kernelFor } from '../kernels.js';
import { linear } from './linear.js';

/** SwiGLU MLP weights in Hugging Face layout: gate and up [ff, d], down [d, ff]. */
export interface SwiGluWeights {
  readonly gate: tf.Tensor2D;
  readonly up: tf.Tensor2D;
  readonly down: tf.Tensor2D;
}

/** x: [T, d] → [T, d] = down(silu(gate(x)) · up(x)), silu(z) = z·sigmoid(z). */
export function swiGluMlp(x: tf.Tensor2D, w: SwiGluWeights): tf.Tensor2D {
  const op = 'swiGluMlp';
  const [ff, d] = w.gate.shape;
  expectShape(
    x.rank === 2 && x.shape[1] === d,
    op,
    () => `x [${x.shape}] must be [T, ${d}] to match gate [${w.gate.shape}]`,
  );
  expectShape(w.up.shape[0] === ff && w.up.shape[1] === d, op, () => `up [${w.up.shape}] must match gate [${ff},${d}]`);
  expectShape(w.down.shape[0] === d && w.down.shape[1] === ff, op, () => `down [${w.down.shape}] must be [${d},${ff}]`);
  return kernelFor('RecurSwiGluMlp', { default: swiGluMlpComposite })(x, w);
}

function swiGluMlpComposite(x: tf.Tensor2D, w: SwiGluWeights): tf.Tensor2D {
  return tf.tidy(() => {
    // Through `linear`, so a backend's own matmul kernel serves the MLP too.
    const gate = linear(x, w.gate); // [T, ff]
    const up = linear(x, w.up); // [T, ff]
    const hidden: tf.Tensor2D = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up); // [T, ff]
    return linear(hidden, w.down); // [T, d]
  });
}
