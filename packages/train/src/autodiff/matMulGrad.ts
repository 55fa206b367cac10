import { tf } from '@recur/tensor';
import { reduceToShape } from './broadcast.js';

/** Swaps the last two axes as a real copy. */
function swapLast(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 2] = x.rank - 1;
  perm[x.rank - 1] = x.rank - 2;
  return tf.transpose(x, perm);
}

/**
 * C = op(A)·op(B). Every product here is an untransposed matMul on explicitly transposed copies:
 * tfjs-wasm sends only flag-free matMuls to XNNPACK, and a transpose flag costs ~10× (see
 * @recur/tensor's wasm/linear.ts), far more than the copy.
 */
export const matMulGrad: tf.GradConfig = {
  kernelName: 'BatchMatMul',
  inputsToSave: ['a', 'b'],
  gradFunc: (dyIn, [a, b], attrs) => {
    const dy = dyIn as tf.Tensor;
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    const opA = (): tf.Tensor => (transposeA ? swapLast(a!) : a!);
    const opAt = (): tf.Tensor => (transposeA ? a! : swapLast(a!));
    const opB = (): tf.Tensor => (transposeB ? swapLast(b!) : b!);
    const opBt = (): tf.Tensor => (transposeB ? b! : swapLast(b!));
    return {
      a: () => reduceToShape(transposeA ? tf.matMul(opB(), swapLast(dy)) : tf.matMul(dy, opBt()), a!.shape),
      b: () => reduceToShape(transposeB ? tf.matMul(swapLast(dy), opA()) : tf.matMul(opAt(), dy), b!.shape),
    };
  },
};
