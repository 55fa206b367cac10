/**
 * Activation rows → int8 per 32-block, the input side of the quantized GEMV (as llama.cpp quantizes
 * the activation row to Q8_0 before vec_dot_q8_0_q8_0): per block d = max|x| / 127, q = round(x / d),
 * and the stored scale is d rounded to f16 precision as in Q8_0 (the quants use the unrounded d, as
 * llama.cpp's quantize_row_q8_0 does), so the products match llama.cpp's on the same file. Row t of T: floats at xAt + t·xStride (float indices into `f32`),
 * quants written at qAt + t·k (element indices into `i8`: an Int16Array view stores them widened, as
 * linearQ8Tiled reads them), scales at sAt + t·k/32 (float indices), and with `sums` −2·Σ of each
 * block's quants at sums.at + t·k/32 (linearQ4Tiled's correction for q4_0's − 8).
 * Runs on the calling thread: a decode step quantizes a few thousand floats per linear.
 */
export function quantizeRowsQ8(
  f32: Float32Array<ArrayBufferLike>,
  i8: Int8Array<ArrayBufferLike> | Int16Array<ArrayBufferLike>,
  x: { readonly at: number; readonly stride: number; readonly k: number; readonly T: number },
  q: {
    readonly at: number;
    readonly scalesAt: number;
    readonly sums?: { readonly i32: Int32Array<ArrayBufferLike>; readonly at: number };
  },
): void {
  const { k, T } = x;
  const blocks = k / 32;
  for (let t = 0; t < T; t++) {
    const row = x.at + t * x.stride;
    const qRow = q.at + t * k;
    const sRow = q.scalesAt + t * blocks;
    for (let b = 0; b < blocks; b++) {
      const from = row + 32 * b;
      let amax = 0;
      for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(f32[from + i]!));
      const d = amax / 127;
      const inv = d > 0 ? 1 / d : 0;
      let sum = 0;
      for (let i = 0; i < 32; i++) {
        const v = Math.round(f32[from + i]! * inv);
        i8[qRow + 32 * b + i] = v;
        sum += v;
      }
      f32[sRow + b] = halfPrecision(d);
      if (q.sums) q.sums.i32[q.sums.at + t * blocks + b] = -2 * sum;
    }
  }
}

/** A positive float rounded to the nearest f16 value (10 mantissa bits; subnormal below 2^-14). */
export function halfPrecision(v: number): number {
  if (v === 0) return 0;
  const exponent = Math.max(-14, Math.floor(Math.log2(v)));
  const quantum = 2 ** (exponent - 10);
  return Math.min(65504, Math.round(v / quantum) * quantum);
}
