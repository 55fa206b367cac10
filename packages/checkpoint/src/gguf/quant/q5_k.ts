import { readHalf } from './blocks.js';
import { quantizeScaleMinSuperBlock } from './kQuantize.js';
import { emptyScales, unpackKScales } from './kScales.js';

/**
 * Q5_K: Q4_K plus a fifth bit: f16 d, f16 dmin, 12 bytes of scales/mins, 32 bytes qh, 128 bytes
 * of low nibbles (176 bytes). Element l of sub-block s (l < 32) takes its high bit from bit s of
 * qh[l]; the nibbles are laid out as in Q4_K. value = d·scale[s]·q − dmin·min[s], q in 0..31.
 */
export const q5_k = { blockSize: 256, blockBytes: 176 } as const;

export function decodeQ5_K(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const sm = emptyScales();
  for (let block = 0; block * 256 < count; block++) {
    const at = block * 176;
    const d = readHalf(bytes, at);
    const dmin = readHalf(bytes, at + 2);
    unpackKScales(bytes, at + 4, sm);
    const qh = at + 16;
    for (let c = 0; c < 4; c++) {
      const ql = at + 48 + 32 * c;
      const y = block * 256 + 64 * c;
      const [s1, s2] = [2 * c, 2 * c + 1];
      const [d1, m1, d2, m2] = [d * sm.scales[s1]!, dmin * sm.mins[s1]!, d * sm.scales[s2]!, dmin * sm.mins[s2]!];
      for (let l = 0; l < 32; l++) {
        const high = bytes[qh + l]!;
        out[y + l] = d1 * ((bytes[ql + l]! & 0x0f) | (((high >> s1) & 1) << 4)) - m1;
        out[y + l + 32] = d2 * ((bytes[ql + l]! >> 4) | (((high >> s2) & 1) << 4)) - m2;
      }
    }
  }
  return out;
}

export function encodeQ5_K(values: Float32Array): Uint8Array {
  const out = new Uint8Array((values.length / 256) * 176);
  for (let block = 0; block * 256 < values.length; block++) {
    const at = block * 176;
    const quants = quantizeScaleMinSuperBlock(values, block * 256, 31, out, at);
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) {
        const [a, b] = [quants[64 * c + l]!, quants[64 * c + 32 + l]!];
        out[at + 48 + 32 * c + l] = (a & 0x0f) | ((b & 0x0f) << 4);
        out[at + 16 + l]! |= ((a >> 4) << (2 * c)) | ((b >> 4) << (2 * c + 1));
      }
    }
  }
  return out;
}
