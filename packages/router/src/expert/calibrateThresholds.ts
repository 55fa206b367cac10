import { capacityFraction } from './capacity.js';

/** Bounds of a stored σ threshold: strictly inside (0, 1), so ln(t/(1 − t)) stays finite. */
const minThreshold = 1e-12;
const maxThreshold = 1 - 1e-12;

/**
 * The σ threshold under which `keep` of these router logits continue (σ(logit) > threshold): the
 * cut sits halfway, in logit space, between the keep-th and the (keep+1)-th largest logit, one logit
 * beyond the ends for keep = 0 or all. Ties at the cut cannot be split by a threshold: the tied group
 * goes in or out together, whichever count lies nearer `keep` (out on a draw: compute is the point).
 * `keep` is rounded and clamped to 0..logits.length. No logits: 0.5 (nothing to calibrate).
 */
export function keepThreshold(logits: ArrayLike<number>, keep: number): number {
  const sorted = Float64Array.from(logits).sort().reverse(); // descending
  if (sorted.some((x) => !Number.isFinite(x))) throw new RangeError('keepThreshold: router logits must be finite');
  const n = sorted.length;
  if (n === 0) return 0.5;
  const kept = achievableKeep(sorted, Math.min(n, Math.max(0, Math.round(keep))));
  const cut = kept === 0 ? sorted[0]! + 1 : kept === n ? sorted[n - 1]! - 1 : (sorted[kept - 1]! + sorted[kept]!) / 2;
  return Math.min(maxThreshold, Math.max(minThreshold, 1 / (1 + Math.exp(-cut))));
}

/** The keep count nearest k that a strict threshold can produce on `sorted` (descending). */
function achievableKeep(sorted: Float64Array, k: number): number {
  const n = sorted.length;
  if (k === 0 || k === n || sorted[k - 1]! > sorted[k]!) return k;
  const tied = sorted[k]!;
  let above = k; // first index of the tied group = how many are strictly larger
  while (above > 0 && sorted[above - 1] === tied) above--;
  let through = k; // one past the tied group
  while (through < n && sorted[through] === tied) through++;
  return k - above <= through - k ? above : through;
}

/**
 * What calibrating recursion r needs: the router logits of the
 * tokens that reach it, and how many tokens were routed in all.
 */
export interface CalibrationSample {
  /** Recursion r's router logits of the tokens that ran loop r − 1 under the thresholds calibrated so far. */
  readonly logits: ArrayLike<number>;
  /** Every routed token, whatever its depth (the denominator of the keep fraction). */
  readonly tokens: number;
}

/**
 * Per-recursion σ thresholds for causal expert-choice routing (MoR, Bae et al. 2025, arXiv
 * 2507.10524, trains with top-k capacity (N − r)/N per recursion; the threshold rule at decode has no
 * capacity, so a fixed 0.5 keeps as many tokens as the router happens to score above it). Calibrated
 * in order r = 1..N−1: `sample(r, thresholds)` runs the threshold rule with the thresholds found so far
 * (indices < r) and returns recursion r's logits of the surviving tokens; the threshold keeps
 * round(capacity(r)·tokens) of them, so the keep fraction — tokens that run loop r over all tokens —
 * matches the trained capacity (hierarchically: only survivors of r − 1 are candidates at r).
 * Index 0 is 0: every token runs loop 0 (σ > 0 always holds). Length N.
 */
export function calibrateThresholds(
  numRecursions: number,
  sample: (recursion: number, thresholds: readonly number[]) => CalibrationSample,
): number[] {
  const thresholds = [0];
  for (let r = 1; r < numRecursions; r++) {
    const { logits, tokens } = sample(r, thresholds.slice());
    const keep = capacityFraction(r, { numRecursions }) * tokens;
    thresholds.push(keepThreshold(logits, keep));
  }
  return thresholds;
}

/**
 * Checks stored per-recursion thresholds against a model of `numRecursions` loops: length N, index 0
 * exactly 0 (loop 0 runs for everyone), the rest finite and in (0, 1). Returns what is wrong, or undefined.
 */
export function thresholdsProblem(thresholds: unknown, numRecursions: number): string | undefined {
  if (!Array.isArray(thresholds)) return 'must be an array of numbers';
  if (thresholds.length !== numRecursions)
    return `must hold one threshold per recursion (${numRecursions}), got ${thresholds.length}`;
  if (thresholds[0] !== 0) return `[0] must be 0 (every token runs loop 0), got ${JSON.stringify(thresholds[0])}`;
  const bad = thresholds.findIndex((t, r) => r > 0 && !(typeof t === 'number' && Number.isFinite(t) && t > 0 && t < 1));
  return bad < 0 ? undefined : `[${bad}] must be a number in (0, 1), got ${JSON.stringify(thresholds[bad])}`;
}
