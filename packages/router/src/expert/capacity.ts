export interface CapacityOptions {
  readonly numRecursions: number;
  /** Training step, for the warm-up (default: past it). */
  readonly step?: number;
  /** Cosine warm-up from full capacity down to the target over this many steps (default 0: none). */
  readonly warmupSteps?: number;
}

/**
 * Fraction of the sequence that recursion r (0-based) keeps under expert-choice MoR (Bae et al. 2025,
 * arXiv 2507.10524): (N_r − r)/N_r, so recursion 0 keeps everyone and the last keeps 1/N_r. During the
 * warm-up it starts at 1 and follows a half cosine to the target: target + (1 − target)·½(1 + cos(π·s/S)).
 * Non-increasing in r at every step, so hierarchical filtering always has enough candidates.
 */
export function capacityFraction(recursion: number, options: CapacityOptions): number {
  const n = options.numRecursions;
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`capacity: numRecursions must be a positive integer, got ${n}`);
  if (!Number.isInteger(recursion) || recursion < 0 || recursion >= n)
    throw new RangeError(`capacity: recursion ${recursion} outside 0..${n - 1}`);
  const target = (n - recursion) / n;
  const warmup = options.warmupSteps ?? 0;
  const step = options.step ?? Infinity;
  if (warmup <= 0 || step >= warmup) return target;
  return target + (1 - target) * 0.5 * (1 + Math.cos((Math.PI * Math.max(0, step)) / warmup));
}

/**
 * Tokens kept at recursion r out of `numTokens`: floor(fraction·T) (the 1e-9 absorbs float error in
 * e.g. (3 − 1)/3·3), at least 1 so every recursion gets work, at most T.
 */
export function capacityTokens(numTokens: number, recursion: number, options: CapacityOptions): number {
  if (numTokens <= 0) return 0;
  const k = Math.floor(capacityFraction(recursion, options) * numTokens + 1e-9);
  return Math.min(numTokens, Math.max(1, k));
}
