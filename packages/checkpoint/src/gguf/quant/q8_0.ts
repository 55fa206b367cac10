import { clamp, readHalf, roundAway, writeHalf } from './blocks.js';

/** Q8_0: blocks of 32 values, each = f16 scale d + 32 int8 q; value = d · q (34 bytes). */
export const q8_0 = { blockSize: 32, blockBytes: 34 } as const;

export function decodeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let block = 0; block * 32 < count; block++) {
    const at = block * 34;
    const d = readHalf(bytes, at);
    for (let i = 0; i < 32; i++) out[block * 32 + i] = d * q[at + 2 + i]!;
  }
  return out;
}

/** As llama.cpp's reference quantiser: per block, d = max|x| / 127 (stored f16), q = round(x / d). */
export function encodeQ8_0(values: Float32Array): Uint8Array {
  const blocks = values.length / 32;
  const out = new Uint8Array(blocks * 34);
  const q = new Int8Array(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(values[b * 32 + i]!));
    const d = Math.fround(amax / 127);
    writeHalf(out, b * 34, d);
    // The quants use the unrounded d, as llama.cpp does; only the decoder sees the f16.
    const inv = d ? 1 / d : 0;
    for (let i = 0; i < 32; i++) q[b * 34 + 2 + i] = clamp(roundAway(values[b * 32 + i]! * inv), -127, 127);
  }
  return out;
}
