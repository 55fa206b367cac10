import { ggmlTypeByName, type GgufWriteDtype } from '@recur/checkpoint';

/**
 * The type one tensor is written in when the file's weight type is `dtype`. Vectors (RMSNorm
 * weights) stay F32, as llama.cpp keeps them. A matrix whose rows are not whole blocks of `dtype`
 * (a ggml block never spans two rows) falls back to Q8_0 when its rows are whole 32-blocks (as
 * llama.cpp's quantizer does for Q6_K), else to F32 — e.g. stories260K's ffn_down, rows of 172.
 */
export function matrixDtype(shape: readonly number[], dtype: GgufWriteDtype): GgufWriteDtype {
  if (shape.length !== 2) return 'F32';
  const rowLength = shape[1]!;
  for (const candidate of [dtype, 'Q8_0', 'F32'] as const) {
    if (rowLength % ggmlTypeByName(candidate)!.blockSize === 0) return candidate;
  }
  return 'F32';
}
