import { tf } from '@recur/tensor';

/**
 * Identity in the forward pass, zero gradient in the backward pass. tfjs-core 4.22 has no
 * `tf.stopGradient`, so this is a `tf.customGrad` whose gradient is zeros: a teacher routed through it
 * is a constant to `tf.grads`/`tf.variableGrads` even when it was computed inside the gradient scope.
 */
export const stopGradient: <T extends tf.Tensor>(x: T) => T = tf.customGrad(
  (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
  },
) as <T extends tf.Tensor>(x: T) => T;
