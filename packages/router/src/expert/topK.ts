/**
 * Top-k of `scores` among `candidates` (scores[j] belongs to token candidates[j]). Higher score first;
 * ties (and NaN, ranked last) go to the earlier position, so selection is deterministic. Returns
 * [token positions ascending, their indices j into candidates].
 */
export function selectTopK(
  scores: ArrayLike<number>,
  candidates: Int32Array,
  k: number,
): { selected: Int32Array; local: Int32Array } {
  if (scores.length !== candidates.length)
    throw new RangeError(`selectTopK: ${scores.length} scores for ${candidates.length} candidates`);
  if (!Number.isInteger(k) || k < 0 || k > candidates.length)
    throw new RangeError(`selectTopK: k = ${k} with ${candidates.length} candidates`);
  const key = (j: number): number => {
    const s = scores[j] ?? NaN;
    return Number.isNaN(s) ? -Infinity : s;
  };
  const order = Array.from(candidates.keys()).sort(
    (a, b) => key(b) - key(a) || (candidates[a] ?? 0) - (candidates[b] ?? 0),
  );
  const local = Int32Array.from(order.slice(0, k)).sort((a, b) => (candidates[a] ?? 0) - (candidates[b] ?? 0));
  return { selected: local.map((j) => candidates[j] ?? -1), local };
}
