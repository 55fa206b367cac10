import { LoraError } from './init.js';

/** Eigenvalues of E·Eᵀ below this share of the largest count as zero (directions no embedding spans). */
const relativeCutoff = 1e-10;

/**
 * Least-squares fit of one hyper generator (Polyhistor's decomposed hypernetworks, Liu et al. 2022, arXiv
 * 2210.03265) to per-step targets, in float64: the G [m, w] minimising Σ_k ‖G·e_k − t_k‖², with e_k [w]
 * step k's embedding and t_k [m] its target factor (an SVD A or B, flattened row-major):
 * G = T·E⁺ = T·Eᵀ·(E·Eᵀ)⁺ (E = [e_1 … e_n] [w, n], T = [t_1 … t_n] [m, n]; ⁺ the pseudo-inverse, from a
 * Jacobi eigendecomposition of the small E·Eᵀ), the minimum-norm least-squares solution, also when the
 * embeddings are dependent
 * ([loop ; position] embeddings are whenever several positions and loops are adapted). Where they are
 * independent (n ≤ w), every target is met. Returns G row-major [m, w], as a generator is stored
 * ([r, in, 2H] or [out, r, 2H] flattened).
 */
export function fitGenerator(targets: readonly Float64Array[], embeddings: readonly Float64Array[]): Float64Array {
  const n = embeddings.length;
  const w = embeddings[0]?.length ?? 0;
  const m = targets[0]?.length ?? 0;
  if (
    n === 0 ||
    w === 0 ||
    targets.length !== n ||
    embeddings.some((e) => e.length !== w) ||
    targets.some((t) => t.length !== m)
  )
    throw new LoraError(`fitGenerator: ${targets.length} targets and ${n} embeddings of unequal or no sizes`);
  const gram = Array.from({ length: w }, (_, a) =>
    Array.from({ length: w }, (_, b) => embeddings.reduce((s, e) => s + e[a]! * e[b]!, 0)),
  ); // E·Eᵀ [w, w]
  if (!gram.some((row, i) => row[i]! > 0)) throw new LoraError('fitGenerator: every step embedding is zero');
  const inverse = pseudoInverse(gram);
  const g = new Float64Array(m * w);
  const te = new Float64Array(w); // one row of T·Eᵀ
  for (let row = 0; row < m; row++) {
    te.fill(0);
    for (let k = 0; k < n; k++) for (let col = 0; col < w; col++) te[col]! += targets[k]![row]! * embeddings[k]![col]!;
    for (let col = 0; col < w; col++) {
      let s = 0;
      for (let a = 0; a < w; a++) s += te[a]! * inverse[a]![col]!;
      g[row * w + col] = s;
    }
  }
  return g;
}

/** (A)⁺ of a symmetric positive semi-definite A by cyclic Jacobi rotations (float64): V·diag(1/λ)·Vᵀ over λ above the cutoff. */
function pseudoInverse(matrix: readonly (readonly number[])[]): number[][] {
  const n = matrix.length;
  const a = matrix.map((row) => [...row]);
  const v = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  const scale = Math.max(...a.map((row, i) => Math.abs(row[i]!)));
  for (let sweep = 0; sweep < 64; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p]![q]! ** 2;
    if (off <= (1e-30 * scale) ** 2) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        if (a[p]![q] === 0) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * a[p]![q]!);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        rotate(a, v, p, q, c, t * c);
      }
  }
  const cutoff = relativeCutoff * Math.max(...a.map((row, i) => row[i]!));
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) =>
      a.reduce((s, row, k) => (row[k]! > cutoff ? s + (v[i]![k]! * v[j]![k]!) / row[k]! : s), 0),
    ),
  );
}

/** A ← Jᵀ·A·J and V ← V·J for the rotation J in the (p, q) plane (cosine c, sine s). */
function rotate(a: number[][], v: number[][], p: number, q: number, c: number, s: number): void {
  for (const m of [a, v])
    for (const row of m) {
      const [kp, kq] = [row[p]!, row[q]!];
      row[p] = c * kp - s * kq;
      row[q] = s * kp + c * kq;
    }
  const [rp, rq] = [a[p]!, a[q]!];
  a[p] = rp.map((x, k) => c * x - s * rq[k]!);
  a[q] = rp.map((x, k) => s * x + c * rq[k]!);
}
