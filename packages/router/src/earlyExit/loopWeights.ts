/**
 * Per-loop loss weights: `weights[l]` or 1 where absent. With `normalize` (the default) they are
 * divided by their sum, so the combined loss has the scale of one CE whatever the loop count and a
 * learning rate tuned on the plain model carries over; unnormalised it is the plain weighted sum.
 */
export function loopWeights(loops: number, weights: readonly number[] | undefined, normalize: boolean): number[] {
  if (weights !== undefined && weights.length > loops) {
    throw new RangeError(`loop weights: ${weights.length} weights for ${loops} loops`);
  }
  const raw = Array.from({ length: loops }, (_, l) => weights?.[l] ?? 1);
  if (raw.some((w) => !Number.isFinite(w) || w < 0))
    throw new RangeError(`loop weights must be finite and ≥ 0, got [${raw}]`);
  if (!normalize) return raw;
  const total = raw.reduce((a, b) => a + b, 0);
  if (total === 0) throw new RangeError('loop weights: all zero, nothing to normalise');
  return raw.map((w) => w / total);
}
