/**
 * The small per-row steps of the fast decoder, in plain JS over the heap's Float32Array: each
 * touches a few thousand floats per row, far less than a dispatch to the thread pool would cost.
 * Offsets are float indices. Arithmetic is float64, stored as float32.
 */

/** out[0..n) = x[0..n) / sqrt(mean(x²) + eps) · w. */
export function rmsNormRow(f32: Float32Array, x: number, out: number, w: Float32Array, eps: number): void {
  const n = w.length;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const v = f32[x + i]!;
    ss += v * v;
  }
  const scale = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) f32[out + i] = f32[x + i]! * scale * w[i]!;
}

/** gate[i] ← silu(gate[i])·up[i] for i < n. */
export function siluMulRow(f32: Float32Array, gate: number, up: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = f32[gate + i]!;
    f32[gate + i] = (g / (1 + Math.exp(-g))) * f32[up + i]!;
  }
}

/** x[0..n) += b[0..n). */
export function addRow(f32: Float32Array, x: number, b: Float32Array): void {
  for (let i = 0; i < b.length; i++) f32[x + i] = f32[x + i]! + b[i]!;
}
