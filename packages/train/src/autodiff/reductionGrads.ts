import { tf } from '@recur/tensor';
import { normalizeAxes } from './broadcast.js';

/** dy of a reduction, broadcast back over the reduced axes of x. */
function expandBack(dy: tf.Tensor, x: tf.Tensor, axes: readonly number[]): tf.Tensor {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d)); // x's shape with reduced axes as 1
  return tf.mul(tf.reshape(dy, kept), tf.ones(x.shape));
}

export const reductionGrads: tf.GradConfig[] = [
  {
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({ x: () => expandBack(dy as tf.Tensor, x!, normalizeAxes(attrs.axis, x!.rank)) }),
  },
  {
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const axes = normalizeAxes(attrs.axis, x!.rank);
      const count = axes.reduce((n, a) => n * (x!.shape[a] ?? 1), 1);
      return { x: () => tf.div(expandBack(dy as tf.Tensor, x!, axes), count) };
    },
  },
];
