import { expectShape } from '../errors.js';
import { symmetricEigen } from './symmetricEigen.js';

export interface SharedPcaCkaOptions {
  /** Width d of every row. */
  readonly dim: number;
  /** Principal directions k of the shared basis (clamped to d and to the union's rows − 1). */
  readonly components: number;
}

export interface SharedPcaCka {
  /** Linear CKA of the two sets in the shared basis, in [0, 1]; 1 = the same second-order structure. */
  readonly cka: number;
  /** 1 − cka: how far the two domains' representations moved apart (ΔCKA). */
  readonly deltaCka: number;
  /** k actually used. */
  readonly components: number;
}

/**
 * ΔCKA under a shared PCA basis ("Attention Saturation and Gradient Suppression at Inflection
 * Layers", Wang 2025, arXiv 2511.00797), float64. x [n, d] (source rows) and y [m, d] (target rows)
 * are hidden states of *different* tokens, so they cannot be paired row by row as plain CKA needs.
 * What pairs them is the basis:
 *   1. P [d, k]: the top-k eigenvectors of the covariance of the union of x and y (about its mean);
 *   2. X = (x − x̄)·P [n, k], Y = (y − ȳ)·P [m, k]: each domain centred on its own mean, projected;
 *   3. CKA = ‖X·Yᵀ‖²_F / (‖X·Xᵀ‖_F·‖Y·Yᵀ‖_F): linear CKA's formula with the k principal directions
 *      as the rows the two share (A = Xᵀ, B = Yᵀ); equal to ⟨XᵀX, YᵀY⟩_F / (‖XᵀX‖_F·‖YᵀY‖_F), the
 *      cosine between the domains' covariances in the basis, so it does not depend on the basis' signs;
 *   4. ΔCKA = 1 − CKA.
 */
export function sharedPcaCka(x: ArrayLike<number>, y: ArrayLike<number>, options: SharedPcaCkaOptions): SharedPcaCka {
  const { dim } = options;
  const n = x.length / dim;
  const m = y.length / dim;
  expectShape(
    Number.isInteger(n) && Number.isInteger(m) && n >= 2 && m >= 2,
    'sharedPcaCka',
    () => `x (${x.length} values) and y (${y.length}) must each hold at least 2 rows of width ${dim}`,
  );
  const k = Math.max(1, Math.min(options.components, dim, n + m - 1));
  const basis = unionBasis([x, y], dim, k); // k vectors of length d
  const sx = projectedCovariance(x, dim, basis);
  const sy = projectedCovariance(y, dim, basis);
  const norms = Math.sqrt(frobeniusDot(sx, sx) * frobeniusDot(sy, sy));
  if (!(norms > 0)) throw new RangeError('sharedPcaCka: a domain has no variance in the shared basis');
  const cka = Math.min(1, Math.max(0, frobeniusDot(sx, sy) / norms));
  return { cka, deltaCka: 1 - cka, components: k };
}

/** Top-k eigenvectors of the covariance [d, d] of all rows of `sets` together. */
function unionBasis(sets: readonly ArrayLike<number>[], dim: number, k: number): Float64Array[] {
  const rows = sets.reduce((r, s) => r + s.length / dim, 0);
  const mean = new Float64Array(dim);
  for (const s of sets) for (let i = 0; i < s.length; i++) mean[i % dim] = (mean[i % dim] as number) + (s[i] as number);
  for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) / rows;
  const cov = new Float64Array(dim * dim); // [d, d], upper half filled, then mirrored
  const row = new Float64Array(dim);
  for (const s of sets) {
    for (let r = 0; r < s.length / dim; r++) {
      for (let j = 0; j < dim; j++) row[j] = (s[r * dim + j] as number) - (mean[j] as number);
      for (let a = 0; a < dim; a++) {
        const ra = row[a] as number;
        for (let b = a; b < dim; b++) cov[a * dim + b] = (cov[a * dim + b] as number) + ra * (row[b] as number);
      }
    }
  }
  for (let a = 0; a < dim; a++) for (let b = 0; b < a; b++) cov[a * dim + b] = cov[b * dim + a] as number;
  return symmetricEigen(cov, dim).vectors.slice(0, k);
}

/** (rows − their mean) projected on `basis` → covariance [k, k] (the 1/rows scale cancels in CKA). */
function projectedCovariance(s: ArrayLike<number>, dim: number, basis: readonly Float64Array[]): Float64Array {
  const rows = s.length / dim;
  const k = basis.length;
  const mean = new Float64Array(dim);
  for (let i = 0; i < s.length; i++) mean[i % dim] = (mean[i % dim] as number) + (s[i] as number) / rows;
  const cov = new Float64Array(k * k);
  const z = new Float64Array(k); // one row's coordinates in the basis
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) {
      const p = basis[c] as Float64Array;
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += ((s[r * dim + j] as number) - (mean[j] as number)) * (p[j] as number);
      z[c] = dot;
    }
    for (let a = 0; a < k; a++)
      for (let b = 0; b < k; b++) cov[a * k + b] = (cov[a * k + b] as number) + (z[a] as number) * (z[b] as number);
  }
  return cov;
}

function frobeniusDot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}
