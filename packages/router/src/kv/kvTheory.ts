/**
 * KV-cache accounting for per-token depth (MoR, Bae et al. 2025, arXiv 2507.10524, §2.3), in cache
 * entries (one entry = one token's K and V at one recursion for one layer of the shared block).
 * activePerDepth[r] = tokens that run recursion r (activePerDepth[0] = T, everyone runs the first).
 * - vanilla: every token writes every recursion, N_r·T.
 * - recursion-wise caching: only tokens active at r write (and read) r's KV, Σ_r active_r.
 * - recursive KV sharing: only the first recursion writes; later ones read it, active_0 = T.
 */
export type KvStrategy = 'vanilla' | 'recursionWise' | 'recursiveSharing';

export function kvEntries(activePerDepth: readonly number[], strategy: KvStrategy): number {
  const first = activePerDepth[0];
  if (first === undefined) throw new RangeError('kvEntries: no depths');
  for (let r = 1; r < activePerDepth.length; r++) {
    if ((activePerDepth[r] ?? 0) > (activePerDepth[r - 1] ?? 0))
      throw new RangeError(`kvEntries: active counts must not grow with depth, got [${activePerDepth}]`);
  }
  switch (strategy) {
    case 'vanilla':
      return activePerDepth.length * first;
    case 'recursionWise':
      return activePerDepth.reduce((a, b) => a + b, 0);
    case 'recursiveSharing':
      return first;
  }
}

/** kvEntries relative to vanilla for the same sequence. */
export function kvRatio(activePerDepth: readonly number[], strategy: KvStrategy): number {
  const vanilla = kvEntries(activePerDepth, 'vanilla');
  return vanilla === 0 ? 0 : kvEntries(activePerDepth, strategy) / vanilla;
}

/** Active tokens per depth under expert-choice's default capacities: T·(N_r − r)/N_r (exact, not floored). */
export function defaultActivePerDepth(numTokens: number, numRecursions: number): number[] {
  return Array.from({ length: numRecursions }, (_, r) => (numTokens * (numRecursions - r)) / numRecursions);
}

/** Theory under the default capacities: 1, (N_r + 1)/(2N_r), 1/N_r. */
export function theoreticalKvRatio(numRecursions: number, strategy: KvStrategy): number {
  switch (strategy) {
    case 'vanilla':
      return 1;
    case 'recursionWise':
      return (numRecursions + 1) / (2 * numRecursions);
    case 'recursiveSharing':
      return 1 / numRecursions;
  }
}

/** Float elements a cache holds: entries × layers per recursion × 2 (K and V) × KV heads × head dim. */
export function kvCacheElements(options: {
  entries: number;
  layersPerRecursion: number;
  numKvHeads: number;
  headDim: number;
}): number {
  return options.entries * options.layersPerRecursion * 2 * options.numKvHeads * options.headDim;
}
