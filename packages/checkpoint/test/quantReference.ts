/**
 * Plain per-element references for the ggml block formats (float64): element e of block b is
 * computed on its own from the byte positions the format description gives, with none of the
 * decoders' loop structure, so a wrong offset in either shows up as a mismatch.
 */
import { halfBitsToFloat } from '../src/bytes/half.js';

const half = (bytes: Uint8Array, at: number): number => halfBitsToFloat(bytes[at]! | (bytes[at + 1]! << 8));
const int8 = (byte: number): number => (byte >= 128 ? byte - 256 : byte);
const nibble = (byte: number, high: boolean): number => (high ? byte >> 4 : byte & 15);

/** The 6-bit scale and min of sub-block s (0..7) from a Q4_K/Q5_K 12-byte scale field at `at`. */
function scaleMin(bytes: Uint8Array, at: number, s: number): [number, number] {
  const b = (i: number): number => bytes[at + i]!;
  if (s < 4) return [b(s) & 63, b(s + 4) & 63];
  return [(b(s + 4) & 15) | ((b(s - 4) >> 6) << 4), (b(s + 4) >> 4) | ((b(s) >> 6) << 4)];
}

const elementFormulas: Record<
  string,
  { blockSize: number; blockBytes: number; value: (bytes: Uint8Array, at: number, e: number) => number }
> = {
  Q8_0: { blockSize: 32, blockBytes: 34, value: (x, at, e) => half(x, at) * int8(x[at + 2 + e]!) },
  Q4_0: {
    blockSize: 32,
    blockBytes: 18,
    value: (x, at, e) => half(x, at) * (nibble(x[at + 2 + (e % 16)]!, e >= 16) - 8),
  },
  Q4_K: {
    blockSize: 256,
    blockBytes: 144,
    value: (x, at, e) => {
      const [s, l] = [e >> 5, e & 31];
      const [sc, m] = scaleMin(x, at + 4, s);
      const q = nibble(x[at + 16 + 32 * (s >> 1) + l]!, (s & 1) === 1);
      return half(x, at) * sc * q - half(x, at + 2) * m;
    },
  },
  Q5_K: {
    blockSize: 256,
    blockBytes: 176,
    value: (x, at, e) => {
      const [s, l] = [e >> 5, e & 31];
      const [sc, m] = scaleMin(x, at + 4, s);
      const q = nibble(x[at + 48 + 32 * (s >> 1) + l]!, (s & 1) === 1) + 16 * ((x[at + 16 + l]! >> s) & 1);
      return half(x, at) * sc * q - half(x, at + 2) * m;
    },
  },
  Q6_K: {
    blockSize: 256,
    blockBytes: 210,
    value: (x, at, e) => {
      const [h, k, l] = [e >> 7, (e >> 5) & 3, e & 31];
      const low = nibble(x[at + 64 * h + 32 * (k & 1) + l]!, k >= 2);
      const high = (x[at + 128 + 32 * h + l]! >> (2 * k)) & 3;
      const scale = int8(x[at + 192 + 8 * h + 2 * k + (l >> 4)]!);
      return half(x, at + 208) * scale * (low + 16 * high - 32);
    },
  },
};

export const referenceTypes = Object.keys(elementFormulas);

export function referenceLayout(type: string): { blockSize: number; blockBytes: number } {
  return elementFormulas[type]!;
}

export function referenceDecode(type: string, bytes: Uint8Array, count: number): Float64Array {
  const f = elementFormulas[type]!;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = f.value(bytes, Math.floor(i / f.blockSize) * f.blockBytes, i % f.blockSize);
  return out;
}
