/**
 * The packed quantized weight formats of the fast path. A [rows, k] matrix (k a multiple of 32) is
 * two arrays: the quants, row after row (q8_0: k int8 per row; q4_0: k/2 bytes per row, GGUF's nibble
 * order — byte j of a block holds element j low and element j + 16 high, value q − 8), and one f32
 * scale per 32-block (rows · k/32 floats). GGUF's f16 scales are widened once at load, so the kernels
 * do no f16 decoding and every block's quants sit 16-byte aligned.
 */
export type QuantFormat = 'q8_0' | 'q4_0';

/** Quant bytes of one row of `k` weights. */
export function quantRowBytes(format: QuantFormat, k: number): number {
  return format === 'q8_0' ? k : k / 2;
}

/**
 * linearQ8Rows / linearQ4Rows / linearQ8Tiled / linearQ4Tiled: y[t, r] (+)= Σ_b sw[r, b]·sx[t, b]·
 * Σ_i wq[r, 32b + i]·xq[t, 32b + i] for weight rows r in [start, end), t < T. X holds the activations
 * quantized per 32-block (quantizeRowsQ8: int8, rows k bytes apart; linearQ8Tiled: widened to i16,
 * 2k bytes apart), XS their scales (rows k/32 floats apart), XC (linearQ4Tiled only) one i32 per
 * block, −2·Σ_i xq (rows k/32 apart).
 */
export const QuantLinearParams = {
  W: 0,
  S: 1,
  X: 2,
  XS: 3,
  Y: 4,
  K: 5,
  T: 6,
  YStride: 7,
  Accumulate: 8,
  XC: 9,
  Size: 10,
} as const;

/** dequantQ8Rows / dequantQ4Rows: out[r − First, :] = float32 weight row r, for r in [start, end). */
export const DequantParams = { W: 0, S: 1, K: 2, Out: 3, First: 4, Size: 5 } as const;

/**
 * quantizeRows, rows t in [start, end): floats at X + t·XStride (bytes) → k int8 quants at
 * Q + t·k·(1 + Wide) (i16 when Wide is 1), f32 scales at S + t·k/8, and when Sums ≠ 0 one i32
 * −2·Σ q per block at Sums + t·k/8.
 */
export const QuantizeParams = { X: 0, XStride: 1, K: 2, Q: 3, Wide: 4, S: 5, Sums: 6, Size: 7 } as const;
