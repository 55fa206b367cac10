import type { Mulberry32 as SeededRandom } from '@recur/tensor';

export interface SamplingOptions {
  /** 0 means greedy (argmax). */
  readonly temperature: number;
  /** Keep only the k most likely tokens; 0 disables. */
  readonly topK: number;
  /** Keep the smallest set whose probability reaches p; 1 disables. */
  readonly topP: number;
}

export const greedySampling: SamplingOptions = { temperature: 0, topK: 0, topP: 1 };

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

/** Picks the next token id from one row of logits. */
export function sampleToken(logits: Float32Array, options: SamplingOptions, random: SeededRandom): number {
  if (options.temperature <= 0) return argmax(logits);
  const candidates = rankedCandidates(logits, options);
  let r = random.next() * candidates.total;
  for (const c of candidates.items) {
    r -= c.weight;
    if (r <= 0) return c.id;
  }
  return candidates.items[candidates.items.length - 1]!.id;
}

interface Candidate {
  id: number;
  weight: number;
}

/** Tempered softmax weights (unnormalised), cut by top-k then top-p, most likely first. */
function rankedCandidates(
  logits: Float32Array,
  { temperature, topK, topP }: SamplingOptions,
): { items: Candidate[]; total: number } {
  const max = logits.reduce((m, v) => Math.max(v, m), -Infinity);
  let items: Candidate[] = Array.from(logits, (v, id) => ({ id, weight: Math.exp((v - max) / temperature) }));
  items.sort((a, b) => b.weight - a.weight);
  if (topK > 0) items = items.slice(0, topK);
  let total = items.reduce((s, c) => s + c.weight, 0);
  if (topP < 1) {
    let kept = 0;
    let mass = 0;
    while (kept < items.length && mass < topP * total) mass += items[kept++]!.weight;
    items = items.slice(0, Math.max(1, kept));
    total = mass;
  }
  return { items, total };
}
