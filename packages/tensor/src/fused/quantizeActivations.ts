/**
 * Activation rows → int8 per 32-block, the input side of the quantized GEMV (as llama.cpp quantizes
 * the activation row to Q8_0 before vec_dot_q8_0_q8_0): per block d = max|x| / 127, q = round(x / d),
 * with d kept as f32 (not f16). Row t of T: floats at xAt + t·xStride (float indices into `f32`),
 * quants written at qAt + t·k (byte indices into `i8`), scales at sAt + t·k/32 (float indices).
 * Runs on the calling thread: a decode step quantizes a few thousand floats per linear.
 */
export function quantizeRowsQ8(
  f32: Float32Array<ArrayBufferLike>,
  i8: Int8Array<ArrayBufferLike>,
  x: { readonly at: number; readonly stride: number; readonly k: number; readonly T: number },
  q: { readonly at: number; readonly scalesAt: number },
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
      for (let i = 0; i < 32; i++) i8[qRow + 32 * b + i] = Math.round(f32[from + i]! * inv);
      f32[sRow + b] = d;
    }
  }
}
