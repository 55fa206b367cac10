import { CheckpointError } from '../errors.js';

/**
 * The largest weight magnitude a loaded model may hold. Any larger value squares past float32's
 * range (RMSNorm, attention scores), so it can only be corruption — a flipped exponent bit turns
 * 0.01 into ~1e36 — and the forward pass would overflow into NaN logits instead of failing.
 * No trained network comes within many orders of magnitude of it; NaN and ±Infinity are refused too.
 */
export const maxWeightMagnitude = 2 ** 64;

/** Float32 bits of 2^64 with the sign cleared: (127 + 64) << 23. Infinity and NaN compare above it. */
const limitBits = (127 + 64) << 23;

/**
 * Index of the first element that is NaN, ±Infinity or |x| ≥ 2^64, or -1. One integer compare per
 * element on the raw bits (NaN and Infinity have the largest exponent, so they need no test of
 * their own); this keeps the scan of a 135M-parameter model to a few tens of milliseconds.
 */
export function firstNonFinite(data: Float32Array): number {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i]! & 0x7fffffff) >= limitBits) return i;
  }
  return -1;
}

/**
 * Throws CheckpointError 'non-finite' naming the file, the tensor (and `alias`, its name in the
 * file where that differs), the first bad element and how many there are.
 */
export function checkFinite(file: string, name: string, data: Float32Array, shape: readonly number[], alias?: string): void {
  const first = firstNonFinite(data);
  if (first < 0) return;
  let count = 0;
  for (let i = first; i < data.length; i++) if (firstNonFinite(data.subarray(i, i + 1)) === 0) count++;
  const value = data[first]!;
  const why = Number.isFinite(value) ? ' (|w| ≥ 2^64 cannot be a trained weight)' : '';
  const others = count > 1 ? `; ${count} bad values in all` : '';
  throw new CheckpointError('non-finite', file, `tensor "${name}"${alias ? ` ("${alias}")` : ''} holds ${value.toExponential(1).replace(/^(-?Infinity|NaN).*/, '$1')} at ${position(first, shape)}${why}${others}: the weights are corrupt`);
}

/** A flat index as [row, col, …] in the tensor's shape. */
function position(flat: number, shape: readonly number[]): string {
  const index: number[] = [];
  let rest = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d]!;
    index.unshift(size > 0 ? rest % size : 0);
    rest = size > 0 ? Math.floor(rest / size) : 0;
  }
  return `[${index.join(', ')}]`;
}
