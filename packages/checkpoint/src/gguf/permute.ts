/**
 * Undoes llama.cpp's q/k permutation. Its converter views the HF rows as [heads, 2, headDim/2]
 * and swaps the last two axes (interleaved RoPE pairs); here the stored rows are viewed as
 * [heads, headDim/2, 2] and swapped back, giving the rotate-half layout HF code expects.
 * `data` is [rows, cols] row-major with rows = heads · headDim; a bias is cols = 1.
 */
export function unpermuteRopeRows(data: Float32Array, heads: number, cols: number): Float32Array {
  const rows = data.length / cols;
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (h * headDim + i * 2 + j) * cols; // stored: [h, i, j]
        const to = (h * headDim + j * half + i) * cols; // HF:     [h, j, i]
        out.set(data.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

/** The inverse of `unpermuteRopeRows`: HF rotate-half rows → llama.cpp's interleaved layout. */
export function permuteRopeRows(data: Float32Array, heads: number, cols: number): Float32Array {
  const rows = data.length / cols;
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (h * headDim + j * half + i) * cols; // HF:     [h, j, i]
        const to = (h * headDim + i * 2 + j) * cols; // stored: [h, i, j]
        out.set(data.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}
