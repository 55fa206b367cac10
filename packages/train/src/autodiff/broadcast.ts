import { tf } from '@recur/tensor';

/**
 * Undoes broadcasting in a gradient: sums `dy` over the axes that `shape` was stretched along
 * (leading axes it lacks, and axes where it has size 1), then reshapes to `shape`. Always a tensor
 * object of its own (a reshape shares dy's data): tfjs frees a gradient when it sums the next one
 * into it, so handing the same dy to two inputs (Add, Sub) would free one input's gradient with the
 * other's.
 */
export function reduceToShape(dy: tf.Tensor, shape: readonly number[]): tf.Tensor {
  if (dy.shape.join(',') === shape.join(',')) return tf.reshape(dy, [...shape]);
  const lead = dy.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dy.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? tf.sum(dy, axes) : dy;
  return tf.reshape(summed, [...shape]);
}

/** Non-negative axis list from a kernel's `axis` attribute (number, list, or all axes when absent). */
export function normalizeAxes(axis: unknown, rank: number): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: rank }, (_, i) => i);
  const list = Array.isArray(axis) ? (axis as number[]) : [axis as number];
  return list.map((a) => (a < 0 ? a + rank : a));
}

/** The permutation that undoes `perm`. */
export function inversePermutation(perm: readonly number[]): number[] {
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return inverse;
}
