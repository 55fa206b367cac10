import { floatToHalfBits, halfBitsToFloat } from '../../bytes/half.js';

/** Little-endian f16 at `bytes[at]`, as a float. */
export function readHalf(bytes: Uint8Array, at: number): number {
  return halfBitsToFloat(bytes[at]! | (bytes[at + 1]! << 8));
}

/** Stores `value` as the nearest f16 at `bytes[at]` and returns the float that was stored. */
export function writeHalf(bytes: Uint8Array, at: number, value: number): number {
  const bits = floatToHalfBits(value);
  bytes[at] = bits & 0xff;
  bytes[at + 1] = bits >> 8;
  return halfBitsToFloat(bits);
}

/** C's roundf: halves go away from zero (Math.round sends -2.5 to -2). */
export function roundAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

export function clamp(x: number, low: number, high: number): number {
  return Math.min(Math.max(x, low), high);
}

/** The element of largest magnitude, sign kept (the first one on ties), and that magnitude. */
export function signedMax(values: Float32Array, start: number, length: number): { max: number; amax: number } {
  let max = 0;
  let amax = 0;
  for (let i = start; i < start + length; i++) {
    const a = Math.abs(values[i]!);
    if (a > amax) {
      amax = a;
      max = values[i]!;
    }
  }
  return { max, amax };
}
