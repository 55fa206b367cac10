import { ShapeError } from '../errors.js';
import { dot, fromColumns, matMul64, toColumns, transpose } from './columns.js';
import { orthonormalizeColumn, qr } from './qr.js';

/** Thin SVD a = u · diag(s) · vᵀ, float64, row-major; k = min(rows, cols). */
export interface SvdResult {
  u: Float64Array; // [rows, k], orthonormal columns
  s: Float64Array; // [k], descending, ≥ 0
  v: Float64Array; // [cols, k], orthonormal columns
}

/** Columns count as orthogonal once |uₚ·u_q| ≤ TOLERANCE · ‖uₚ‖‖u_q‖. */
const TOLERANCE = 1e-12;
/** One-sided Jacobi converges quadratically; real inputs need < 15 sweeps, this only bounds bad ones. */
const MAX_SWEEPS = 60;

/**
 * Exact thin SVD of a small dense matrix by one-sided (Hestenes) Jacobi: rotate column pairs of
 * `a` until all are orthogonal; their norms are the singular values. Wide inputs are transposed;
 * tall ones (rows ≥ 2·cols) are first reduced to their cols×cols R factor.
 */
export function jacobiSvd(a: ArrayLike<number>, rows: number, cols: number): SvdResult {
  if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows > 0 && cols > 0) || a.length !== rows * cols) {
    throw new ShapeError(
      'jacobiSvd',
      `matrix of length ${a.length} is not [${rows}, ${cols}] with positive integer sizes`,
    );
  }
  if (rows < cols) {
    const t = jacobiSvd(transpose(a, rows, cols), cols, rows);
    return { u: t.v, s: t.s, v: t.u };
  }
  return rows >= 2 * cols ? viaR(a, rows, cols) : tallJacobi(a, rows, cols);
}

/** a = Q·R with R [cols, cols]; SVD of R is cheaper (cols³ per sweep, not rows·cols²); u = Q·u_R. */
function viaR(a: ArrayLike<number>, rows: number, cols: number): SvdResult {
  const q = qr(a, rows, cols); // [rows, cols]
  const r = matMul64(transpose(q, rows, cols), Float64Array.from(a), cols, rows, cols); // [cols, cols]
  const inner = tallJacobi(r, cols, cols);
  return { u: matMul64(q, inner.u, rows, cols, cols), s: inner.s, v: inner.v };
}

/** rows ≥ cols. */
function tallJacobi(a: ArrayLike<number>, rows: number, cols: number): SvdResult {
  const work = toColumns(a, rows, cols); // converges to u·diag(s)
  const vColumns = Array.from({ length: cols }, (_, j) => {
    const e = new Float64Array(cols);
    e[j] = 1;
    return e;
  });
  for (let sweep = 0; sweep < MAX_SWEEPS && sweepOnce(work, vColumns) > 0; sweep++);
  return sortedFactors(work, vColumns, rows);
}

/** One pass over all column pairs; returns how many were rotated. */
function sweepOnce(work: Float64Array[], vColumns: Float64Array[]): number {
  let rotations = 0;
  for (let p = 0; p < work.length - 1; p++) {
    for (let q = p + 1; q < work.length; q++) {
      const [x, y] = [work[p] as Float64Array, work[q] as Float64Array];
      const [alpha, beta, gamma] = [dot(x, x), dot(y, y), dot(x, y)];
      if (Math.abs(gamma) <= TOLERANCE * Math.sqrt(alpha * beta)) continue;
      // The rotation that zeroes the (p, q) entry of the Gram matrix (smaller-angle root).
      const zeta = (beta - alpha) / (2 * gamma);
      const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
      const c = 1 / Math.sqrt(1 + t * t);
      rotate(x, y, c, c * t);
      rotate(vColumns[p] as Float64Array, vColumns[q] as Float64Array, c, c * t);
      rotations++;
    }
  }
  return rotations;
}

/** (x, y) ← (c·x − s·y, s·x + c·y), in place. */
function rotate(x: Float64Array, y: Float64Array, c: number, s: number): void {
  for (let i = 0; i < x.length; i++) {
    const [xi, yi] = [x[i] as number, y[i] as number];
    x[i] = c * xi - s * yi;
    y[i] = s * xi + c * yi;
  }
}

/** Norms → s (descending); columns / norms → u, completed to an orthonormal set where s ≈ 0. */
function sortedFactors(work: Float64Array[], vColumns: Float64Array[], rows: number): SvdResult {
  const norms = work.map((column) => Math.sqrt(dot(column, column)));
  const order = norms.map((_, j) => j).sort((i, j) => (norms[j] as number) - (norms[i] as number));
  const largest = norms[order[0] as number] as number;
  const uColumns = order.map((j) => work[j] as Float64Array);
  order.forEach((j, rank) => {
    const norm = norms[j] as number;
    // Below this the column's direction is rounding noise; any orthonormal completion will do.
    if (norm > 1e-13 * largest) uColumns[rank]?.forEach((x, i, column) => (column[i] = x / norm));
    else orthonormalizeColumn(uColumns, rank);
  });
  return {
    u: fromColumns(uColumns, rows),
    s: Float64Array.from(order, (j) => norms[j] as number),
    v: fromColumns(
      order.map((j) => vColumns[j] as Float64Array),
      vColumns.length,
    ),
  };
}
