import type { EchoReuse } from '@recur/graph';

/** Least attention-map similarity (1 − JS in bits) at which `auto` lets a step reuse another's maps. */
export const DEFAULT_ECHO_THRESHOLD = 0.9;

export class EchoPlanError extends Error {
  override readonly name = 'EchoPlanError';
}

/** `3<-2,4<-2`: step 3 and step 4 reuse step 2's attention maps. Checks syntax only (graph checks the steps). */
export function parseEchoPlan(text: string): EchoReuse[] {
  const plan = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^(\d+)\s*<-\s*(\d+)$/.exec(part);
      if (!match) throw new EchoPlanError(`echo plan: "${part}" is not STEP<-SOURCE (e.g. 3<-2)`);
      return { step: Number(match[1]), source: Number(match[2]) };
    });
  if (plan.length === 0) throw new EchoPlanError('echo plan: empty; give STEP<-SOURCE pairs or auto');
  return plan;
}

export const echoPlanText = (plan: readonly EchoReuse[]): string =>
  plan.map((r) => `${r.step}<-${r.source}`).join(',') || '(none)';

/**
 * The `auto` rule over a [step][step] similarity matrix: the first and last steps always compute their own
 * maps (EchoAtt shares inner layers only); every other step, in order, reuses the most similar earlier step
 * that computes its own maps, if that similarity is at least `threshold`. A reusing step never becomes a source.
 */
export function autoEchoPlan(
  similarity: readonly (readonly number[])[],
  threshold = DEFAULT_ECHO_THRESHOLD,
): EchoReuse[] {
  const steps = similarity.length;
  const computing: number[] = [0];
  const plan: EchoReuse[] = [];
  for (let step = 1; step < steps; step++) {
    const best = computing.reduce((a, b) => ((similarity[step]?.[b] ?? -1) > (similarity[step]?.[a] ?? -1) ? b : a));
    if (step < steps - 1 && (similarity[step]?.[best] ?? -1) >= threshold) plan.push({ step, source: best });
    else computing.push(step);
  }
  return plan;
}
