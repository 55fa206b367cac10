import { readHalf, signedMax, writeHalf } from './blocks.js';

/**
 * Q4_0: blocks of 32 values, each = f16 scale d + 16 bytes of 4-bit quants (18 bytes).
 * Byte j holds element j in its low nibble and element j + 16 in its high nibble; value = d · (q − 8).
 */
export const q4_0 = { blockSize: 32, blockBytes: 18 } as const;

export function decodeQ4_0(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let block = 0; block * 32 < count; block++) {
    const at = block * 18;
    const d = readHalf(bytes, at);
    const y = block * 32;
    for (let j = 0; j < 16; j++) {
      const byte = bytes[at + 2 + j]!;
      out[y + j] = d * ((byte & 0x0f) - 8);
      out[y + j + 16] = d * ((byte >> 4) - 8);
    }
  }
  return out;
}

/**
 * As llama.cpp's reference quantiser: d = m / −8 where m is the element of largest magnitude, so
 * that element maps exactly to quant 0 and the rest round into 0..15 (its range is asymmetric, −8..7).
 */
export function encodeQ4_0(values: Float32Array): Uint8Array {
  const blocks = values.length / 32;
  const out = new Uint8Array(blocks * 18);
  for (let b = 0; b < blocks; b++) {
    const x = b * 32;
    const { max } = signedMax(values, x, 32);
    const d = Math.fround(max / -8);
    writeHalf(out, b * 18, d);
    const inv = d ? 1 / d : 0;
    const quant = (v: number): number => Math.min(15, Math.trunc(v * inv + 8.5));
    for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = quant(values[x + j]!) | (quant(values[x + j + 16]!) << 4);
  }
  return out;
}
