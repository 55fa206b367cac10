/**
 * One-vector float64 building blocks for whole-model references (a decoder written token by token
 * in plain arithmetic, as the graph and router tests do): the same maths as the ops, one row at a time.
 */

/** y = W·x, W [rows, x.length] row-major (HF Linear layout). */
export function refMatVec(W: ArrayLike<number>, x: readonly number[], rows: number): number[] {
  const cols = x.length;
  return Array.from({ length: rows }, (_, r) => x.reduce((acc, xi, c) => acc + W[r * cols + c]! * xi, 0));
}

/** RMSNorm of one vector: x / √(mean(x²) + eps) · weight. */
export function refRmsVector(x: readonly number[], weight: ArrayLike<number>, eps: number): number[] {
  const ms = x.reduce((a, b) => a + b * b, 0) / x.length;
  return x.map((v, i) => (v / Math.sqrt(ms + eps)) * weight[i]!);
}

export function refAddVectors(a: readonly number[], b: readonly number[]): number[] {
  return a.map((v, i) => v + b[i]!);
}

/** Rotate-half RoPE of one token's heads at position `pos` (plain θ^(−2i/hd) frequencies). */
export function refRopeVector(x: readonly number[], pos: number, heads: number, hd: number, theta: number): number[] {
  const out = x.slice();
  const half = hd / 2;
  for (let head = 0; head < heads; head++) {
    for (let i = 0; i < half; i++) {
      const angle = pos / theta ** ((2 * i) / hd);
      const a = x[head * hd + i]!;
      const b = x[head * hd + i + half]!;
      out[head * hd + i] = a * Math.cos(angle) - b * Math.sin(angle);
      out[head * hd + i + half] = b * Math.cos(angle) + a * Math.sin(angle);
    }
  }
  return out;
}

/**
 * Softmax attention of one query row [H·hd] over key/value rows [S][Hkv·hd] (GQA: head h reads kv head ⌊h / (H/Hkv)⌋).
 */
export function refAttendVector(
  q: ArrayLike<number>,
  k: readonly ArrayLike<number>[],
  v: readonly ArrayLike<number>[],
  H: number,
  Hkv: number,
  hd: number,
): number[] {
  const out: number[] = [];
  for (let head = 0; head < H; head++) {
    const kvHead = Math.floor(head / (H / Hkv));
    const scores = k.map((row) => {
      let dot = 0;
      for (let i = 0; i < hd; i++) dot += q[head * hd + i]! * row[kvHead * hd + i]!;
      return dot / Math.sqrt(hd);
    });
    const max = Math.max(...scores);
    const e = scores.map((sc) => Math.exp(sc - max));
    const z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < hd; i++) out.push(e.reduce((acc, ei, s) => acc + (ei / z) * v[s]![kvHead * hd + i]!, 0));
  }
  return out;
}
