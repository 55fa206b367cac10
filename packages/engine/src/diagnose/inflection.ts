/**
 * Inflection layers ("Attention Saturation and Gradient Suppression at Inflection Layers", Wang 2025,
 * arXiv 2511.00797): depths where attention is saturated (low entropy) and the gradient that reaches
 * the layer from above is suppressed. The exact rule used here, over executed steps in order:
 * step s (not the last) is an inflection step when
 *   attentionEntropy(s) < median of attentionEntropy over all steps, and
 *   activationGradNorm(s) < (1 − minDrop) · activationGradNorm(s + 1),
 * i.e. ‖∂L/∂h‖ falls by more than minDrop going from the step above down to s.
 */
export function inflectionSteps(
  entropy: readonly number[],
  activationGradNorm: readonly number[],
  minDrop: number,
): number[] {
  if (entropy.length !== activationGradNorm.length)
    throw new RangeError(
      `inflection rule: ${entropy.length} entropies for ${activationGradNorm.length} gradient norms`,
    );
  if (!(minDrop >= 0 && minDrop < 1))
    throw new RangeError(`inflection rule: min drop must be in [0, 1), got ${minDrop}`);
  const median = medianOf(entropy);
  const out: number[] = [];
  for (let s = 0; s + 1 < entropy.length; s++) {
    const above = activationGradNorm[s + 1] as number;
    if ((entropy[s] as number) < median && (activationGradNorm[s] as number) < (1 - minDrop) * above) out.push(s);
  }
  return out;
}

/** The rule in one line, as `recur diagnose` prints it. */
export function inflectionRuleText(minDrop: number): string {
  return `inflection step s: attentionEntropy(s) < median over steps and activationGradNorm(s) < ${(1 - minDrop).toFixed(3)} × activationGradNorm(s+1) (a drop of more than ${(100 * minDrop).toFixed(1)}% from the step above)`;
}

export function medianOf(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The ranked fallback of `--lora-layers auto:K` when the strict rule (inflectionSteps) flags too few steps on a
 * small model: every executed step ordered by how close it comes to an inflection step (Wang 2025, arXiv
 * 2511.00797), best first. Score, in order of precedence:
 *   1. saturated attention: attentionEntropy(s) < median over steps ranks before the rest;
 *   2. gradient suppression: the ratio activationGradNorm(s) / activationGradNorm(s + 1), ascending (the largest
 *      relative drop of ‖∂L/∂h‖ from the step above first); the last step has no step above and ranks last in
 *      its group;
 *   3. ties: the lower step first.
 * Every step the strict rule flags satisfies 1 and has a ratio below 1 − minDrop, so it ranks before every step
 * that is not flagged and has a ratio at least as large.
 */
export function inflectionRanking(entropy: readonly number[], activationGradNorm: readonly number[]): number[] {
  if (entropy.length !== activationGradNorm.length)
    throw new RangeError(
      `inflection ranking: ${entropy.length} entropies for ${activationGradNorm.length} gradient norms`,
    );
  if (![...entropy, ...activationGradNorm].every(Number.isFinite))
    throw new RangeError('inflection ranking: a non-finite entropy or gradient norm');
  const median = medianOf(entropy);
  const key = entropy.map((e, s) => ({
    s,
    saturated: e < median ? 0 : 1,
    ratio:
      s + 1 < entropy.length ? (activationGradNorm[s] as number) / (activationGradNorm[s + 1] as number) : Infinity,
  }));
  key.sort((a, b) => a.saturated - b.saturated || compareRatio(a.ratio, b.ratio) || a.s - b.s);
  return key.map((k) => k.s);
}

/** Ascending, with NaN (0 / 0: no gradient at either step) after every number. */
function compareRatio(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
  return a === b ? 0 : a < b ? -1 : 1;
}

/** The ranking's rule in one line, as `recur diagnose` prints it. */
export const INFLECTION_RANKING_TEXT =
  'steps with attentionEntropy below the median first, then by activationGradNorm(s) / activationGradNorm(s+1) ascending (the last step last), ties by step';
