import { CheckpointError } from '../errors.js';
import { simdChunkBytes, simdScanner } from './finite-simd.js';

/**
 * The largest weight magnitude a loaded model may hold. Any larger value squares past float32's
 * range (RMSNorm, attention scores), so it can only be corruption — a flipped exponent bit turns
 * 0.01 into ~1e36 — and the forward pass would overflow into NaN logits instead of failing.
 * No trained network comes within many orders of magnitude of it; NaN and ±Infinity are refused too.
 */
export const maxWeightMagnitude = 2 ** 64;

/** Float32 bits of 2^64 with the sign cleared: (127 + 64) << 23. Infinity and NaN compare above it. */
const limitBits = (127 + 64) << 23;

const simd = simdScanner(limitBits);

/**
 * Index of the first element that is NaN, ±Infinity or |x| ≥ 2^64, or -1. The test is one
 * unsigned compare of the bits without the sign (NaN and Infinity have the largest exponent, so
 * they need no test of their own), run four lanes at a time by a WebAssembly SIMD kernel where
 * there is one; a flagged chunk is then searched element by element.
 */
export function firstNonFinite(data: Float32Array): number {
  if (!simd) return scalarFirst(data, 0, data.length);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const whole = bytes.byteLength - (bytes.byteLength % 16);
  for (let start = 0; start < whole; start += simdChunkBytes) {
    const end = Math.min(whole, start + simdChunkBytes);
    if (simd(bytes.subarray(start, end))) return scalarFirst(data, start / 4, end / 4);
  }
  return scalarFirst(data, whole / 4, data.length);
}

function scalarFirst(data: Float32Array, from: number, to: number): number {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = from; i < to; i++) {
    if ((bits[i]! & 0x7fffffff) >= limitBits) return i;
  }
  return -1;
}

/**
 * Throws CheckpointError 'non-finite' naming the file, the tensor (and `alias`, its name in the
 * file where that differs), the first bad element and how many there are.
 */
export function checkFinite(
  file: string,
  name: string,
  data: Float32Array,
  shape: readonly number[],
  alias?: string,
): void {
  const first = firstNonFinite(data);
  if (first < 0) return;
  let count = 0;
  for (let i = first; i < data.length; i++) if (scalarFirst(data, i, i + 1) === i) count++;
  const value = data[first]!;
  const why = Number.isFinite(value) ? ' (|w| ≥ 2^64 cannot be a trained weight)' : '';
  const others = count > 1 ? `; ${count} bad values in all` : '';
  throw new CheckpointError(
    'non-finite',
    file,
    `tensor "${name}"${alias ? ` ("${alias}")` : ''} holds ${value.toExponential(1).replace(/^(-?Infinity|NaN).*/, '$1')} at ${position(first, shape)}${why}${others}: the weights are corrupt`,
  );
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
