import { tf } from '@recur/tensor';
import { inversePermutation } from './broadcast.js';

const single = (dy: tf.Tensor | tf.Tensor[]): tf.Tensor => dy as tf.Tensor;
const many = (dy: tf.Tensor | tf.Tensor[]): tf.Tensor[] => dy as tf.Tensor[];
const axisOf = (axis: unknown, rank: number): number =>
  (axis as number) < 0 ? (axis as number) + rank : (axis as number);

/** Ops that move values without changing them: the gradient moves dy back. */
export const shapeGrads: tf.GradConfig[] = [
  {
    kernelName: 'Reshape',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.reshape(single(dy), x!.shape) }),
  },
  {
    kernelName: 'ExpandDims',
    inputsToSave: ['input'],
    gradFunc: (dy, [x]) => ({ input: () => tf.reshape(single(dy), x!.shape) }),
  },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _saved, attrs) => ({
      x: () => tf.transpose(single(dy), inversePermutation(attrs.perm as number[])),
    }),
  },
  {
    kernelName: 'SplitV',
    gradFunc: (dy, _saved, attrs) => ({ x: () => tf.concat(many(dy), axisOf(attrs.axis, many(dy)[0]!.rank)) }),
  },
  {
    kernelName: 'Concat',
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const axis = axisOf(attrs.axis, single(dy).rank);
      const sizes = saved.map((t) => t.shape[axis] ?? 0);
      const parts = (): tf.Tensor[] => tf.split(single(dy), sizes, axis);
      return Object.fromEntries(saved.map((_, i) => [String(i), () => parts()[i]!]));
    },
  },
  {
    kernelName: 'Pack',
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const axis = axisOf(attrs.axis, single(dy).rank);
      return Object.fromEntries(saved.map((_, i) => [String(i), () => tf.unstack(single(dy), axis)[i]!]));
    },
  },
  {
    kernelName: 'Unpack',
    gradFunc: (dy, _saved, attrs) => ({ value: () => tf.stack(many(dy), axisOf(attrs.axis, many(dy)[0]!.rank + 1)) }),
  },
  {
    kernelName: 'Slice',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const begin = sliceBegin(attrs.begin, x!.rank);
      const out = single(dy).shape;
      const paddings = x!.shape.map((d, i): [number, number] => [begin[i]!, d - begin[i]! - out[i]!]);
      return { x: () => tf.pad(single(dy), paddings) };
    },
  },
  {
    kernelName: 'GatherV2',
    inputsToSave: ['x', 'indices'],
    gradFunc: (dy, [x, indices], attrs) => {
      if (axisOf(attrs.axis, x!.rank) !== 0 || x!.rank !== 2 || indices!.rank !== 1) {
        throw new Error('gather gradient: only row gathers (x [N, d], 1-D indices, axis 0) are supported');
      }
      // Rows picked more than once sum their gradients: oneHotᵀ·dy ([N, T]·[T, d]) does that with one
      // untransposed matMul (tfjs-wasm has no UnsortedSegmentSum).
      const pick = (): tf.Tensor2D =>
        tf.transpose(tf.cast(tf.oneHot(tf.cast(indices!, 'int32'), x!.shape[0]!), 'float32') as tf.Tensor2D); // [N, T]
      return { x: () => tf.matMul(pick(), single(dy) as tf.Tensor2D), indices: () => tf.zeros(indices!.shape) };
    },
  },
];

/** Slice's `begin` attribute as one start per axis (a number means the first axis only). */
function sliceBegin(begin: unknown, rank: number): number[] {
  const list = typeof begin === 'number' ? [begin] : (begin as number[]);
  return Array.from({ length: rank }, (_, i) => list[i] ?? 0);
}
