import { capacityFraction } from '@recur/router';

/** One recursion's share of the routed tokens that ran it, beside the share expert-choice training kept. */
export interface KeepFraction {
  readonly recursion: number;
  /** Tokens that ran loop `recursion` (0-based) over all routed tokens. */
  readonly fraction: number;
  /** Trained capacity (N − r)/N (MoR, Bae et al. 2025, arXiv 2507.10524). */
  readonly capacity: number;
}

/**
 * Keep fraction per recursion from a depth histogram (depthCounts[d − 1] = tokens that ran d loops):
 * recursion r ran on every token of depth > r. Recursion 0 is listed too (1 against 1).
 */
export function keepFractions(depthCounts: readonly number[]): KeepFraction[] {
  const n = depthCounts.length;
  const total = depthCounts.reduce((a, b) => a + b, 0);
  return depthCounts.map((_, r) => {
    const ran = depthCounts.slice(r).reduce((a, b) => a + b, 0);
    return {
      recursion: r,
      fraction: total > 0 ? ran / total : NaN,
      capacity: capacityFraction(r, { numRecursions: n }),
    };
  });
}
