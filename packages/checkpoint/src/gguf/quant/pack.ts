import { readHalf } from './blocks.js';

/**
 * A [rows, k] Q8_0 or Q4_0 matrix repacked for a runtime's quantized kernels: the quants of each row
 * contiguous (q8_0: k int8; q4_0: k/2 bytes, GGUF's nibble order kept) and the f16 block scales
 * widened to f32 in their own array, so every block's quants are 16-byte aligned and no kernel
 * decodes f16. 1.125 (q8_0) / 0.625 (q4_0) bytes a weight.
 */
export interface PackedQuantRows {
  readonly format: 'q8_0' | 'q4_0';
  readonly shape: readonly [number, number];
  readonly quants: Uint8Array;
  readonly scales: Float32Array;
}

const layouts = {
  Q8_0: { format: 'q8_0', blockBytes: 34, quantBytes: 32 },
  Q4_0: { format: 'q4_0', blockBytes: 18, quantBytes: 16 },
} as const;

/** Whether `packQuantRows` takes this ggml type. */
export function isPackableQuant(typeName: string): typeName is keyof typeof layouts {
  return typeName in layouts;
}

/**
 * Repacks GGUF blocks of a [rows, k] matrix (k a multiple of 32, `bytes` holding every block).
 * Output row r comes from stored row `sourceRow(r)` (identity by default; q/k use it to undo
 * llama.cpp's RoPE row permutation without dequantizing).
 */
export function packQuantRows(
  typeName: keyof typeof layouts,
  bytes: Uint8Array,
  shape: readonly [number, number],
  sourceRow: (r: number) => number = (r) => r,
): PackedQuantRows {
  const { format, blockBytes, quantBytes } = layouts[typeName];
  const [rows, k] = shape;
  const blocks = k / 32;
  const quants = new Uint8Array(rows * blocks * quantBytes);
  const scales = new Float32Array(rows * blocks);
  for (let r = 0; r < rows; r++) {
    const from = sourceRow(r) * blocks * blockBytes;
    for (let b = 0; b < blocks; b++) {
      const at = from + b * blockBytes;
      scales[r * blocks + b] = readHalf(bytes, at);
      quants.set(bytes.subarray(at + 2, at + blockBytes), (r * blocks + b) * quantBytes);
    }
  }
  return { format, shape: [rows, k], quants, scales };
}
