/** linearRows params: y[t, r] (+)= Σ_j w[r, j]·x[t, j] for weight rows r in [start, end), t < T. */
export const LinearParams = { W: 0, X: 1, Y: 2, K: 3, T: 4, XStride: 5, YStride: 6, Accumulate: 7, Size: 8 } as const;
/** siluMul params: gate[t, i] ← silu(gate[t, i])·up[t, i], i < N, for rows t in [start, end); up = gate + UpOffset bytes. */
export const SiluParams = { Gate: 0, UpOffset: 1, N: 2, RowStride: 3, Size: 4 } as const;
/** rmsNorm params: out[t, :] = x[t, :] / sqrt(mean(x[t, :]²) + Eps) · w for rows t in [start, end); Eps is an f32. */
export const NormParams = { X: 0, XStride: 1, Out: 2, OutStride: 3, W: 4, N: 5, Eps: 6, Size: 7 } as const;
/**
 * attn* params; items are (t, h) = t·nHeads + h (attentionTiled: (block of rows, kv head), over `Rows`
 * rows). Row info: 4 i32 per row t (see RowInfo).
 */
export const AttnParams = {
  Q: 0,
  QStride: 1,
  RowInfo: 2,
  Scores: 3,
  ScoreStride: 4,
  Heads: 5,
  Group: 6,
  HeadBytes: 7,
  Scale: 8,
  Out: 9,
  OutStride: 10,
  /** Non-zero: the fused kernel leaves each item's softmax probabilities in its score row (EchoAtt sources). */
  KeepProbs: 11,
  /** attentionTiled: rows of the run (its items are blocks of rows × kv heads). */
  Rows: 12,
  /**
   * attentionTiled: non-zero, the byte address where item (t, h)'s softmax probabilities go, at
   * Kept + (t·heads + h)·KeptStride (EchoAtt sources on the tiled path: its score rows hold one tile only).
   */
  Kept: 13,
  KeptStride: 14,
  Size: 15,
} as const;
/** Per-row cache description: K of kv head 0 at position 0, V likewise, positions attended, bytes between kv heads. */
export const RowInfo = { KBase: 0, VBase: 1, Context: 2, HeadStride: 3, Size: 4 } as const;

/** Every fused kernel: `fn(params, start, end)` over work items [start, end). */
export type KernelFn = (params: number, start: number, end: number) => void;
/**
 * ropeStore params, per row t of [start, end): q, k, v heads at Qkv + t·QkvStride (bytes), its cos/sin
 * table at Rope + t·HeadBytes (headDim/2 cosines, then as many sines), and KvWrite + 16·t its write.
 */
export const RopeParams = {
  Qkv: 0,
  QkvStride: 1,
  Heads: 2,
  KvHeads: 3,
  HeadBytes: 4,
  Rope: 5,
  KvWrite: 6,
  Size: 7,
} as const;
/** Per-row K/V write: whether the row writes, K and V of kv head 0 at its entry, bytes between kv heads. */
export const KvWrite = { Writes: 0, K: 1, V: 2, HeadStride: 3, Size: 4 } as const;
