/** Thin SVD A = U·diag(s)·Vᵀ with k = min(rows, cols), s descending; all row-major float64. */
export interface SvdResult {
  readonly u: Float64Array; // [rows, k]
  readonly s: Float64Array; // [k]
  readonly v: Float64Array; // [cols, k]
}

const maxSweeps = 60;

/**
 * Exact SVD by one-sided Jacobi (Hestenes): rotate column pairs of A until all are orthogonal;
 * the column norms are then the singular values. Accurate to working precision, O(k²·rows) a sweep.
 */
export function jacobiSvd(a: ArrayLike<number>, rows: number, cols: number): SvdResult {
  if (rows < cols) {
    const t = jacobiSvd(transpose(a, rows, cols), cols, rows);
    return { u: t.v, s: t.s, v: t.u };
  }
  const columns = Array.from({ length: cols }, (_, j) => Float64Array.from({ length: rows }, (_, i) => a[i * cols + j] as number));
  const vCols = Array.from({ length: cols }, (_, j) => Float64Array.from({ length: cols }, (_, i) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < cols - 1; p++) {
      for (let q = p + 1; q < cols; q++) rotated = orthogonalise(columns, vCols, p, q) || rotated;
    }
    if (!rotated) break;
  }
  const s = columns.map((c) => Math.hypot(...c));
  const order = s.map((_, j) => j).sort((x, y) => s[y]! - s[x]!);
  const u = new Float64Array(rows * cols);
  const v = new Float64Array(cols * cols);
  order.forEach((j, rank) => {
    const norm = s[j]!;
    for (let i = 0; i < rows; i++) u[i * cols + rank] = norm > 0 ? columns[j]![i]! / norm : 0;
    for (let i = 0; i < cols; i++) v[i * cols + rank] = vCols[j]![i]!;
  });
  return { u, s: Float64Array.from(order, (j) => s[j]!), v };
}

/** One Jacobi rotation making columns p and q orthogonal; false when they already are. */
function orthogonalise(columns: Float64Array[], vCols: Float64Array[], p: number, q: number): boolean {
  const x = columns[p]!;
  const y = columns[q]!;
  let alpha = 0;
  let beta = 0;
  let gamma = 0;
  for (let i = 0; i < x.length; i++) {
    alpha += x[i]! * x[i]!;
    beta += y[i]! * y[i]!;
    gamma += x[i]! * y[i]!;
  }
  if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) return false;
  const zeta = (beta - alpha) / (2 * gamma);
  const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
  const c = 1 / Math.sqrt(1 + t * t);
  const s = c * t;
  rotate(x, y, c, s);
  rotate(vCols[p]!, vCols[q]!, c, s);
  return true;
}

function rotate(x: Float64Array, y: Float64Array, c: number, s: number): void {
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    x[i] = c * xi - s * yi;
    y[i] = s * xi + c * yi;
  }
}

export function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j] as number;
  return out;
}
