/** Eigen-decomposition g = Σ λᵢ·vᵢ·vᵢᵀ of a symmetric matrix, float64. */
export interface SymmetricEigen {
  values: Float64Array; // [n], descending
  vectors: Float64Array[]; // n unit vectors, vectors[i] belongs to values[i]
}

/**
 * Householder tridiagonalisation, then the implicit QL algorithm with Wilkinson-style shifts
 * (EISPACK tred2/tql2, as in JAMA): O(n³) in all — much cheaper than Jacobi sweeps on the same n.
 * `g` is row-major [n, n] and symmetric (only what tred2 reads matters); it is not modified.
 */
export function symmetricEigen(g: ArrayLike<number>, n: number): SymmetricEigen {
  const v = Float64Array.from(g); // [n, n], becomes the eigenvector matrix (columns)
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalize(v, d, e, n);
  const columns = transposeToRows(v, n); // columns[j]: column j of v, contiguous for the QL rotations
  diagonalize(columns, d, e, n);
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => (d[j] as number) - (d[i] as number));
  return {
    values: Float64Array.from(order, (i) => d[i] as number),
    vectors: order.map((i) => columns[i] as Float64Array),
  };
}

/** tred2: v ← the orthogonal Q with Qᵀ·g·Q tridiagonal; d its diagonal, e[1..] its sub-diagonal. */
function tridiagonalize(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  const at = (i: number, j: number) => v[i * n + j] as number;
  for (let j = 0; j < n; j++) d[j] = at(n - 1, j);
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k] as number);
    if (scale === 0) {
      e[i] = d[i - 1] as number;
      for (let j = 0; j < i; j++) {
        d[j] = at(i - 1, j);
        v[i * n + j] = 0;
        v[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = (d[k] as number) / scale;
        h += (d[k] as number) ** 2;
      }
      let f = d[i - 1] as number;
      let g = f > 0 ? -Math.sqrt(h) : Math.sqrt(h);
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j] as number;
        v[j * n + i] = f;
        g = (e[j] as number) + at(j, j) * f;
        for (let k = j + 1; k < i; k++) {
          g += at(k, j) * (d[k] as number);
          e[k] = (e[k] as number) + at(k, j) * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = (e[j] as number) / h;
        f += (e[j] as number) * (d[j] as number);
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = (e[j] as number) - hh * (d[j] as number);
      for (let j = 0; j < i; j++) {
        f = d[j] as number;
        g = e[j] as number;
        for (let k = j; k < i; k++) v[k * n + j] = at(k, j) - (f * (e[k] as number) + g * (d[k] as number));
        d[j] = at(i - 1, j);
        v[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  accumulate(v, d, n);
  e[0] = 0;
}

/** The rest of tred2: builds Q from the stored Householder vectors. */
function accumulate(v: Float64Array, d: Float64Array, n: number): void {
  const at = (i: number, j: number) => v[i * n + j] as number;
  for (let i = 0; i < n - 1; i++) {
    v[(n - 1) * n + i] = at(i, i);
    v[i * n + i] = 1;
    const h = d[i + 1] as number;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = at(k, i + 1) / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += at(k, i + 1) * at(k, j);
        for (let k = 0; k <= i; k++) v[k * n + j] = at(k, j) - g * (d[k] as number);
      }
    }
    for (let k = 0; k <= i; k++) v[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = at(n - 1, j);
    v[(n - 1) * n + j] = 0;
  }
  v[(n - 1) * n + n - 1] = 1;
}

/** tql2: QL iterations on the tridiagonal (d, e), rotating the eigenvector columns along. */
function diagonalize(columns: Float64Array[], d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i] as number;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l] as number) + Math.abs(e[l] as number));
    let m = l;
    while (m < n && Math.abs(e[m] as number) > eps * tst1) m++;
    if (m > l) {
      do {
        let g = d[l] as number;
        let p = ((d[l + 1] as number) - g) / (2 * (e[l] as number));
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = (e[l] as number) / (p + r);
        d[l + 1] = (e[l] as number) * (p + r);
        const dl1 = d[l + 1] as number;
        let h = g - (d[l] as number);
        for (let i = l + 2; i < n; i++) d[i] = (d[i] as number) - h;
        f += h;
        p = d[m] as number;
        let [c, c2, c3, s, s2] = [1, 1, 1, 0, 0];
        const el1 = e[l + 1] as number;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * (e[i] as number);
          h = c * p;
          r = Math.hypot(p, e[i] as number);
          e[i + 1] = s * r;
          s = (e[i] as number) / r;
          c = p / r;
          p = c * (d[i] as number) - s * g;
          d[i + 1] = h + s * (c * g + s * (d[i] as number));
          rotate(columns[i] as Float64Array, columns[i + 1] as Float64Array, c, s);
        }
        p = (-s * s2 * c3 * el1 * (e[l] as number)) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l] as number) > eps * tst1);
    }
    d[l] = (d[l] as number) + f;
    e[l] = 0;
  }
}

/** (x, y) ← (c·x − s·y, s·x + c·y), in place. */
function rotate(x: Float64Array, y: Float64Array, c: number, s: number): void {
  for (let k = 0; k < x.length; k++) {
    const [xk, yk] = [x[k] as number, y[k] as number];
    y[k] = s * xk + c * yk;
    x[k] = c * xk - s * yk;
  }
}

/** Row-major [n, n] → its n columns as contiguous arrays. */
function transposeToRows(v: Float64Array, n: number): Float64Array[] {
  return Array.from({ length: n }, (_, j) => Float64Array.from({ length: n }, (_, i) => v[i * n + j] as number));
}
