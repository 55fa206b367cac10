import { clamp, readHalf, roundAway, signedMax, writeHalf } from './blocks.js';

/**
 * Q6_K: super-blocks of 256 = 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8
 * sub-block scales (one per 16 elements), then f16 d — last (210 bytes). value = d·scale·(q − 32).
 * Each half h (128 elements) has its own 64 ql, 32 qh and 8 scales; within it, element 32k + l
 * (k = 0..3, l < 32) takes the low nibble (k < 2) or high nibble (k ≥ 2) of ql[l + 32·(k mod 2)],
 * bits 2k..2k+1 of qh[l], and scale[l / 16 + 2k].
 */
export const q6_k = { blockSize: 256, blockBytes: 210 } as const;

export function decodeQ6_K(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const scales = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let block = 0; block * 256 < count; block++) {
    const at = block * 210;
    const d = readHalf(bytes, at + 208);
    for (let h = 0; h < 2; h++) {
      const [ql, qh, sc, y] = [at + 64 * h, at + 128 + 32 * h, at + 192 + 8 * h, block * 256 + 128 * h];
      for (let l = 0; l < 32; l++) {
        const [lo0, lo1, high] = [bytes[ql + l]!, bytes[ql + l + 32]!, bytes[qh + l]!];
        const s = sc + (l >> 4);
        out[y + l] = d * scales[s]! * (((lo0 & 0x0f) | ((high & 3) << 4)) - 32);
        out[y + l + 32] = d * scales[s + 2]! * (((lo1 & 0x0f) | (((high >> 2) & 3) << 4)) - 32);
        out[y + l + 64] = d * scales[s + 4]! * (((lo0 >> 4) | (((high >> 4) & 3) << 4)) - 32);
        out[y + l + 96] = d * scales[s + 6]! * (((lo1 >> 4) | (((high >> 6) & 3) << 4)) - 32);
      }
    }
  }
  return out;
}

/**
 * Plain quantiser in Q6_K's format: each 16-element sub-block gets scale m / −32 (m its element of
 * largest magnitude, so q spans −32..31 as in Q4_0), scales stored as int8 against d = max|scale| / 127.
 */
export function encodeQ6_K(values: Float32Array): Uint8Array {
  const out = new Uint8Array((values.length / 256) * 210);
  const scales = new Int8Array(out.buffer);
  for (let block = 0; block * 256 < values.length; block++) {
    const [at, x] = [block * 210, block * 256];
    const sub = Array.from({ length: 16 }, (_, s) => signedMax(values, x + 16 * s, 16).max / -32);
    const d = writeHalf(out, at + 208, Math.max(...sub.map(Math.abs)) / 127);
    for (let s = 0; s < 16; s++) scales[at + 192 + s] = d ? clamp(roundAway(sub[s]! / d), -128, 127) : 0;
    for (let e = 0; e < 256; e++) {
      const step = d * scales[at + 192 + (e >> 4)]!;
      const q = (step ? clamp(roundAway(values[x + e]! / step), -32, 31) : 0) + 32;
      placeQ6(out, at, e, q);
    }
  }
  return out;
}

/** Writes the 6-bit quant of element e (0..255) of the super-block at `at` into ql and qh. */
function placeQ6(out: Uint8Array, at: number, e: number, q: number): void {
  const [h, k, l] = [e >> 7, (e >> 5) & 3, e & 31];
  const ql = at + 64 * h + l + 32 * (k & 1);
  out[ql]! |= k < 2 ? q & 0x0f : (q & 0x0f) << 4;
  out[at + 128 + 32 * h + l]! |= (q >> 4) << (2 * k);
}
