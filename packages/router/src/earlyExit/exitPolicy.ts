/**
 * Confidence-based early exit at inference (Relaxed Recursive Transformers, Bae et al. 2024,
 * arXiv 2410.20672, §3.4): a token leaves after the first loop whose readout (final norm + LM head)
 * is confident enough. Each rule reads only that token's own row, so it is causal at decode time.
 */
export type ExitPolicy =
  /** Exit once max_v p(v) ≥ threshold. */
  | { readonly kind: 'maxProb'; readonly threshold: number }
  /** Exit once the entropy −Σ p·ln p (nats) ≤ threshold. */
  | { readonly kind: 'entropy'; readonly threshold: number }
  /** Every token runs `depth` loops (clamped to the loops available). */
  | { readonly kind: 'fixed'; readonly depth: number };

/** Whether rows hold logits (softmax taken here) or probabilities already. */
export type RowInput = 'logits' | 'probs';

/** Probabilities of one row, in float64: softmax of logits (max-shifted), or the row itself. */
export function rowProbabilities(row: ArrayLike<number>, input: RowInput = 'logits'): Float64Array {
  const p = Float64Array.from(row);
  if (input === 'probs') return p;
  let max = -Infinity;
  for (const x of p) max = Math.max(max, x);
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += p[i] = Math.exp((p[i] ?? 0) - max);
  for (let i = 0; i < p.length; i++) p[i] = (p[i] ?? 0) / sum;
  return p;
}

/** max_v p(v) of one row. */
export function maxProbability(row: ArrayLike<number>, input: RowInput = 'logits'): number {
  return rowProbabilities(row, input).reduce((a, b) => Math.max(a, b), 0);
}

/** Entropy −Σ p·ln p of one row in nats (0·ln 0 = 0). */
export function entropy(row: ArrayLike<number>, input: RowInput = 'logits'): number {
  return rowProbabilities(row, input).reduce((h, q) => (q > 0 ? h - q * Math.log(q) : h), 0);
}

/** Whether a token whose readout after loop `loop` (0-based) is `row` leaves there. */
export function shouldExit(
  row: ArrayLike<number>,
  loop: number,
  policy: ExitPolicy,
  input: RowInput = 'logits',
): boolean {
  switch (policy.kind) {
    case 'maxProb':
      return maxProbability(row, input) >= policy.threshold;
    case 'entropy':
      return entropy(row, input) <= policy.threshold;
    case 'fixed':
      return loop + 1 >= policy.depth;
  }
}

export interface ExitDepthsOptions {
  readonly vocabSize: number;
  readonly policy: ExitPolicy;
  readonly input?: RowInput;
}

/**
 * Exit depth per token (number of loops run, 1..L) from per-loop readouts: `loops[l]` is [T·V]
 * row-major, shallowest loop first. A token that is never confident runs every loop.
 */
export function exitDepths(loops: readonly Float32Array[], options: ExitDepthsOptions): Int32Array {
  const first = loops[0];
  if (first === undefined) throw new RangeError('exitDepths: no loops');
  const v = options.vocabSize;
  if (first.length % v !== 0) throw new RangeError(`exitDepths: ${first.length} values are not rows of ${v}`);
  const tokens = first.length / v;
  for (const [l, rows] of loops.entries()) {
    if (rows.length !== tokens * v)
      throw new RangeError(`exitDepths: loop ${l} has ${rows.length} values, expected ${tokens * v}`);
  }
  const depths = new Int32Array(tokens).fill(loops.length);
  for (let t = 0; t < tokens; t++) {
    for (let l = 0; l < loops.length - 1; l++) {
      if (shouldExit((loops[l] as Float32Array).subarray(t * v, (t + 1) * v), l, options.policy, options.input)) {
        depths[t] = l + 1;
        break;
      }
    }
  }
  return depths;
}
