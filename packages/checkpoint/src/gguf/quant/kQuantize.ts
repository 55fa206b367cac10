import { clamp, writeHalf } from './blocks.js';
import { packKScales } from './kScales.js';

/** A hair above 1: f16 rounding of a super-block scale must not shrink it below what the 6-bit codes need. */
const roundUp = 1 + 2 ** -10;

/**
 * A plain quantiser for the "scale and min" K-quants (Q4_K, Q5_K): each 32-element sub-block is
 * mapped affinely onto 0..qmax, value ≈ d·sc·q − dmin·m, with the 6-bit sub-block codes sc and m
 * taken against the super-block's f16 d and dmin. The codes are rounded up (min first, then the
 * scale that covers the rest of the range), so every element lies inside its sub-block's
 * representable range and only the quant rounding (≤ half a step) remains: a rounded-down scale
 * would clamp the top of the range, an error shared by many elements. It is llama.cpp's format,
 * not its iterative error search (make_qkx2_quants), so it is somewhat less accurate.
 */
export function quantizeScaleMinSuperBlock(
  values: Float32Array,
  start: number,
  qmax: number,
  out: Uint8Array,
  at: number,
): Uint8Array {
  const lows = new Float64Array(8);
  const highs = new Float64Array(8);
  for (let s = 0; s < 8; s++) {
    let [lo, hi] = [0, 0]; // the range always holds 0, so the offset (a min) is never negative
    for (let i = 0; i < 32; i++) {
      const v = values[start + 32 * s + i]!;
      [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    }
    [lows[s], highs[s]] = [lo, hi];
  }
  const dmin = writeHalf(out, at + 2, (Math.max(...lows.map((lo) => -lo)) / 63) * roundUp);
  const mins = lows.map((lo) => (dmin ? clamp(Math.ceil(-lo / dmin), 0, 63) : 0));
  const spans = highs.map((hi, s) => (hi + dmin * mins[s]!) / qmax); // the step each sub-block needs
  const d = writeHalf(out, at, (Math.max(...spans) / 63) * roundUp);
  const scales = spans.map((span) => (d ? clamp(Math.ceil(span / d), 0, 63) : 0));
  packKScales(scales, mins, out, at + 4);
  const quants = new Uint8Array(256);
  for (let s = 0; s < 8; s++) {
    const [step, offset] = [d * scales[s]!, dmin * mins[s]!];
    for (let i = 0; i < 32; i++) {
      const v = values[start + 32 * s + i]!;
      quants[32 * s + i] = step ? clamp(Math.round((v + offset) / step), 0, qmax) : 0;
    }
  }
  return quants; // [256] in element order; the caller packs them into its own bit layout
}
