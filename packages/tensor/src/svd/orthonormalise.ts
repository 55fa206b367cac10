/**
 * Orthonormal basis of the columns of Y [rows, cols] (row-major) by modified Gram–Schmidt, run twice
 * for stability ("twice is enough"). Columns that vanish are left zero.
 */
export function orthonormalColumns(y: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const columns = Array.from({ length: cols }, (_, j) => Float64Array.from({ length: rows }, (_, i) => y[i * cols + j] as number));
  for (let pass = 0; pass < 2; pass++) {
    columns.forEach((col, j) => {
      for (let k = 0; k < j; k++) subtractProjection(col, columns[k]!);
      const norm = Math.hypot(...col);
      for (let i = 0; i < rows; i++) col[i] = norm > 1e-300 ? col[i]! / norm : 0;
    });
  }
  const q = new Float64Array(rows * cols);
  columns.forEach((col, j) => col.forEach((value, i) => (q[i * cols + j] = value)));
  return q;
}

function subtractProjection(col: Float64Array, basis: Float64Array): void {
  let dot = 0;
  for (let i = 0; i < col.length; i++) dot += col[i]! * basis[i]!;
  for (let i = 0; i < col.length; i++) col[i]! -= dot * basis[i]!;
}
