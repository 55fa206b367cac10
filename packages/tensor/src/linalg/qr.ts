import { dot, fromColumns, subtractScaled, toColumns } from './columns.js';

/**
 * Q of a thin QR: an orthonormal basis Q [m, k] (row-major, float64) of the columns of a [m, k],
 * k ≤ m, by modified Gram–Schmidt applied twice ("twice is enough": orthogonal to ~1e-15).
 * A column already (numerically) in the span of the earlier ones is replaced by a unit vector
 * that is not, so Q always has k orthonormal columns.
 */
export function qr(a: ArrayLike<number>, m: number, k: number): Float64Array {
  if (k > m) throw new RangeError(`qr: needs k ≤ m, got [${m}, ${k}]`);
  const columns = toColumns(a, m, k);
  for (let j = 0; j < k; j++) orthonormalizeColumn(columns, j);
  return fromColumns(columns, m);
}

/** Makes columns[j] unit length and orthogonal to columns[0..j), which must already be orthonormal. */
export function orthonormalizeColumn(columns: Float64Array[], j: number): void {
  const column = columns[j] as Float64Array;
  const before = Math.sqrt(dot(column, column));
  const after = projectOut(columns, j);
  // A residual this small is rounding noise: its direction means nothing.
  if (after > 0 && after > 1e-13 * before) {
    scale(column, 1 / after);
    return;
  }
  for (let e = 0; e < column.length; e++) {
    column.fill(0);
    column[e] = 1;
    const residual = projectOut(columns, j);
    if (residual > 0.5) {
      scale(column, 1 / residual);
      return;
    }
  }
}

/** Removes from columns[j] its components along columns[0..j), twice; returns the residual norm. */
function projectOut(columns: Float64Array[], j: number): number {
  const column = columns[j] as Float64Array;
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < j; i++) {
      const basis = columns[i] as Float64Array;
      subtractScaled(column, dot(basis, column), basis);
    }
  }
  return Math.sqrt(dot(column, column));
}

function scale(column: Float64Array, factor: number): void {
  for (let i = 0; i < column.length; i++) column[i] = (column[i] as number) * factor;
}
