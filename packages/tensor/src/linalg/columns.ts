/** Row-major [rows, cols] → one Float64Array per column (column work is contiguous this way). */
export function toColumns(a: ArrayLike<number>, rows: number, cols: number): Float64Array[] {
  const out = Array.from({ length: cols }, () => new Float64Array(rows));
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    for (let j = 0; j < cols; j++) (out[j] as Float64Array)[i] = a[row + j] as number;
  }
  return out;
}

/** Columns (each of length `rows`) → row-major [rows, columns.length]. */
export function fromColumns(columns: readonly Float64Array[], rows: number): Float64Array {
  const cols = columns.length;
  const out = new Float64Array(rows * cols);
  columns.forEach((column, j) => {
    for (let i = 0; i < rows; i++) out[i * cols + j] = column[i] as number;
  });
  return out;
}

export function dot(x: Float64Array, y: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (x[i] as number) * (y[i] as number);
  return sum;
}

/** x -= alpha · y, in place. */
export function subtractScaled(x: Float64Array, alpha: number, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) - alpha * (y[i] as number);
}

/** Row-major [rows, cols] → row-major [cols, rows]. */
export function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j] as number;
  }
  return out;
}

/** Row-major product [m, n] · [n, p] → [m, p], float64. */
export function matMul64(a: Float64Array, b: Float64Array, m: number, n: number, p: number): Float64Array {
  const out = new Float64Array(m * p);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < n; l++) {
      const ail = a[i * n + l] as number;
      if (ail === 0) continue;
      const bRow = l * p;
      const outRow = i * p;
      for (let j = 0; j < p; j++) out[outRow + j] = (out[outRow + j] as number) + ail * (b[bRow + j] as number);
    }
  }
  return out;
}
