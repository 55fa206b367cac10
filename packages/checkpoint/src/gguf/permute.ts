/**
 * Undoes llama.cpp's q/k permutation. Its converter views the HF rows as [heads, 2, headDim/2]
 * and swaps the last two axes (interleaved RoPE pairs); here the stored rows are viewed as
 * [heads, headDim/2, 2] and swapped back, giving the rotate-half layout HF code expects.
 * `data` is [rows, cols] row-major with rows = heads · headDim; a bias is cols = 1.
 */
export function unpermuteRopeRows(data: Float32Array, heads: number, cols: number): Float32Array {
  return moveRopeRows(data, heads, cols, 'to-rotate-half');
}

/**
 * The stored (interleaved) row that `unpermuteRopeRows` moves to rotate-half row `row`, for
 * matrices of `rows` = heads · headDim rows: reorders quantized rows without decoding them.
 */
export function interleavedSourceRow(row: number, heads: number, rows: number): number {
  const headDim = rows / heads;
  const half = headDim / 2;
  const [h, within] = [Math.floor(row / headDim), row % headDim];
  const [j, i] = [Math.floor(within / half), within % half];
  return h * headDim + i * 2 + j;
}

/** The inverse of `unpermuteRopeRows`: HF rotate-half rows → llama.cpp's interleaved layout. */
export function permuteRopeRows(data: Float32Array, heads: number, cols: number): Float32Array {
  return moveRopeRows(data, heads, cols, 'to-interleaved');
}

/**
 * Row (h, i, j) of the interleaved layout [heads, headDim/2, 2] is row (h, j, i) of rotate-half [heads, 2, headDim/2].
 */
function moveRopeRows(
  data: Float32Array,
  heads: number,
  cols: number,
  direction: 'to-rotate-half' | 'to-interleaved',
): Float32Array {
  const headDim = data.length / cols / heads;
  const half = headDim / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const interleaved = (h * headDim + i * 2 + j) * cols;
        const rotateHalf = (h * headDim + j * half + i) * cols;
        const [from, to] = direction === 'to-rotate-half' ? [interleaved, rotateHalf] : [rotateHalf, interleaved];
        out.set(data.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}
