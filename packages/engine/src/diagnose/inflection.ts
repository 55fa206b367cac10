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
