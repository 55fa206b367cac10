import type { SvdResult } from './jacobiSvd.js';
import { orthonormalizeColumn } from './qr.js';
import { symmetricEigen } from './symmetricEigen.js';

/**
 * The exact leading `rank` singular triplets of a row-major [rows, cols] matrix, float64, through
 * the Gram matrix of its smaller side: X [n, m] (n = min side) → G = X·Xᵀ [n, n] = E·diag(σ²)·Eᵀ,
 * and the other side's vectors are Xᵀ·e / σ. Squaring costs relative accuracy only on singular values
 * far below the largest (error ≈ 1e-16·σ₁²/σᵢ), which a truncation keeps last if at all; the top
 * subspace is exact, unlike a randomised sketch's when singular values sit close together.
 */
export function gramSvd(a: ArrayLike<number>, rows: number, cols: number, rank: number): SvdResult {
  const wide = rows <= cols; // X = A (rows are the small side) or Aᵀ
  const [n, m] = wide ? [rows, cols] : [cols, rows];
  const x = smallSideRows(a, rows, cols, wide); // n rows of length m
  const { values, vectors } = symmetricEigen(gram(x, n), n);
  const s = Float64Array.from(values.subarray(0, rank), (l) => Math.sqrt(Math.max(0, l)));
  const small = vectors.slice(0, rank); // [rank] × n
  const large = otherSide(x, small, s, m);
  const [u, v] = wide ? [small, large] : [large, small];
  return { u: rowMajor(u, rows), s, v: rowMajor(v, cols) };
}

/** The small side's vectors as rows: A's rows when wide, else A's columns. */
function smallSideRows(a: ArrayLike<number>, rows: number, cols: number, wide: boolean): Float64Array[] {
  if (wide)
    return Array.from({ length: rows }, (_, i) =>
      Float64Array.from({ length: cols }, (_, j) => a[i * cols + j] as number),
    );
  const out = Array.from({ length: cols }, () => new Float64Array(rows));
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) (out[j] as Float64Array)[i] = a[i * cols + j] as number;
  return out;
}

/** G = X·Xᵀ [n, n], row-major: each entry one contiguous dot product, the lower half mirrored. */
function gram(x: Float64Array[], n: number): Float64Array {
  const g = new Float64Array(n * n);
  for (let p = 0; p < n; p++) {
    const xp = x[p] as Float64Array;
    for (let q = 0; q <= p; q++) {
      const xq = x[q] as Float64Array;
      let sum = 0;
      for (let k = 0; k < xp.length; k++) sum += (xp[k] as number) * (xq[k] as number);
      g[p * n + q] = sum;
      g[q * n + p] = sum;
    }
  }
  return g;
}

/** wᵢ = Xᵀ·eᵢ / σᵢ; where σᵢ is rounding noise any unit vector orthogonal to the others will do. */
function otherSide(x: Float64Array[], small: Float64Array[], s: Float64Array, m: number): Float64Array[] {
  const largest = s[0] ?? 0;
  const out = small.map(() => new Float64Array(m));
  small.forEach((e, i) => {
    const w = out[i] as Float64Array;
    x.forEach((row, p) => {
      const ep = e[p] as number;
      for (let k = 0; k < m; k++) w[k] = (w[k] as number) + ep * (row[k] as number);
    });
    const sigma = s[i] as number;
    if (sigma > 1e-13 * largest && sigma > 0) w.forEach((value, k) => (w[k] = value / sigma));
    else orthonormalizeColumn(out, i);
  });
  return out;
}

/** k vectors of length `length` → row-major [length, k]. */
function rowMajor(vectors: Float64Array[], length: number): Float64Array {
  const k = vectors.length;
  const out = new Float64Array(length * k);
  vectors.forEach((vec, j) => {
    for (let i = 0; i < length; i++) out[i * k + j] = vec[i] as number;
  });
  return out;
}
