import { clamp, writeHalf } from './blocks.js';
import { packKScales } from './kScales.js';

/**
 * A plain min/scale quantiser for the "scale and min" K-quants (Q4_K, Q5_K): each 32-element
 * sub-block is mapped affinely onto 0..qmax, value ≈ d·sc·q − dmin·m, with the sub-block scales
 * and mins themselves quantised to 6 bits against the super-block's f16 d and dmin. It is not
 * llama.cpp's iterative search (make_qkx2_quants), only its format: simpler, slightly less accurate.
 */
export function quantizeScaleMinSuperBlock(values: Float32Array, start: number, qmax: number, out: Uint8Array, at: number): Uint8Array {
  const subScale = new Float64Array(8);
  const subMin = new Float64Array(8); // −(offset) ≥ 0, so that value = scale·q − min
  for (let s = 0; s < 8; s++) {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 32; i++) {
      const v = values[start + 32 * s + i]!;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    subScale[s] = (hi - lo) / qmax;
    subMin[s] = -lo;
  }
  const d = writeHalf(out, at, Math.max(...subScale) / 63);
  const dmin = writeHalf(out, at + 2, Math.max(...subMin) / 63);
  const scales = subScale.map((v) => (d ? clamp(Math.round(v / d), 0, 63) : 0));
  const mins = subMin.map((v) => (dmin ? clamp(Math.round(v / dmin), 0, 63) : 0));
  packKScales(scales, mins, out, at + 4);
  const quants = new Uint8Array(256);
  for (let s = 0; s < 8; s++) {
    const step = d * scales[s]!;
    const offset = dmin * mins[s]!;
    for (let i = 0; i < 32; i++) {
      const v = values[start + 32 * s + i]!;
      quants[32 * s + i] = step ? clamp(Math.round((v + offset) / step), 0, qmax) : 0;
    }
  }
  return quants; // [256] in element order; the caller packs them into its own bit layout
}
