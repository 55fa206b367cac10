import { readHalf } from './blocks.js';
import { quantizeScaleMinSuperBlock } from './kQuantize.js';
import { emptyScales, unpackKScales } from './kScales.js';

/**
 * Q4_K: super-blocks of 256 = f16 d, f16 dmin, 12 bytes of 6-bit scales/mins (see kScales), 128
 * bytes of 4-bit quants (144 bytes). Each 64-element chunk c uses 32 quant bytes: low nibbles are
 * sub-block 2c, high nibbles sub-block 2c + 1; value = d·scale[s]·q − dmin·min[s].
 */
export const q4_k = { blockSize: 256, blockBytes: 144 } as const;

export function decodeQ4_K(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const sm = emptyScales();
  for (let block = 0; block * 256 < count; block++) {
    const at = block * 144;
    const d = readHalf(bytes, at);
    const dmin = readHalf(bytes, at + 2);
    unpackKScales(bytes, at + 4, sm);
    for (let c = 0; c < 4; c++) {
      const q = at + 16 + 32 * c;
      const y = block * 256 + 64 * c;
      const [d1, m1, d2, m2] = [
        d * sm.scales[2 * c]!,
        dmin * sm.mins[2 * c]!,
        d * sm.scales[2 * c + 1]!,
        dmin * sm.mins[2 * c + 1]!,
      ];
      for (let l = 0; l < 32; l++) {
        out[y + l] = d1 * (bytes[q + l]! & 0x0f) - m1;
        out[y + l + 32] = d2 * (bytes[q + l]! >> 4) - m2;
      }
    }
  }
  return out;
}

export function encodeQ4_K(values: Float32Array): Uint8Array {
  const out = new Uint8Array((values.length / 256) * 144);
  for (let block = 0; block * 256 < values.length; block++) {
    const at = block * 144;
    const quants = quantizeScaleMinSuperBlock(values, block * 256, 15, out, at);
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) out[at + 16 + 32 * c + l] = quants[64 * c + l]! | (quants[64 * c + 32 + l]! << 4);
    }
  }
  return out;
}
