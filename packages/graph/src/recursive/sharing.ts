/**
 * Layer tying of Relaxed Recursive Transformers (Bae et al. 2024, arXiv 2410.20672, §3.1):
 * a block of K shared layers is looped N times.
 *  - cycle:    the block runs 0..K-1, then again 0..K-1, … (source layers i, i+K, i+2K… are tied);
 *  - sequence: each shared layer is repeated N times back to back (0,0,…,1,1,…);
 *  - middle-*: the first and last source layers stay unique and the L−2 in between are shared.
 */
export const sharingStrategies = ['cycle', 'sequence', 'middle-cycle', 'middle-sequence'] as const;
export type SharingStrategy = (typeof sharingStrategies)[number];

/**
 * How K is fitted when L (or L−2) is not a multiple of N:
 *  - floor: K = ⌊L/N⌋ and K·N source layers picked by round(linspace), Python rounding — what the
 *    public MoR code does (raymin0223/mixture_of_recursions, `sharing_strategy()`; Bae et al. 2024,
 *    arXiv 2410.20672; Bae et al. 2025, arXiv 2507.10524): some source layers are dropped, none repeats;
 *  - round: K = round(L/N) — Recur's earlier rule; K·N > L repeats source layers (MC×2 of 5 → [1,2,2,3]).
 */
export const depthFits = ['floor', 'round'] as const;
export type DepthFit = (typeof depthFits)[number];

/** One executed layer of the recursive model. */
export interface LayerStep {
  /** Index into the model's unique layers (what `model.layers.{unique}` stores). */
  readonly unique: number;
  /** Loop number for shared layers (0-based); 0 for the unique first/last layers. */
  readonly loop: number;
  readonly role: 'first' | 'shared' | 'last';
  /** The source-model layer this step stands in for (init and LoRA residuals use it). */
  readonly sourceLayer: number;
}

export interface TyingPlan {
  readonly strategy: SharingStrategy;
  readonly depthFit: DepthFit;
  readonly sourceLayers: number;
  readonly loops: number;
  /** K: shared layers in the block. */
  readonly blockSize: number;
  /** Unique layers stored: K, plus 2 for the middle strategies. */
  readonly uniqueLayers: number;
  /** Executed layers in order (length = first + K·N + last). */
  readonly steps: readonly LayerStep[];
  /**
   * Source layers the shared block may be initialised from, ascending: with floor the K·N picked
   * ones (the public code's adjusted model), with round all L (or L−2) shareable layers.
   */
  readonly pool: readonly number[];
  /** Set when L (or L−2) is not a multiple of N and source layers were picked by round(linspace). */
  readonly warning?: string;
}

export class TyingError extends Error {
  override readonly name = 'TyingError';
}

/** round(linspace(start, stop, count)) — numpy's inclusive linspace, rounded half away from zero. */
export function roundedLinspace(start: number, stop: number, count: number): number[] {
  if (count === 1) return [start];
  return Array.from({ length: count }, (_, i) => Math.round(start + ((stop - start) * i) / (count - 1)));
}

/** round(linspace(start, stop, count)) with Python's round (half to even), as numpy + Python compute it. */
export function evenRoundedLinspace(start: number, stop: number, count: number): number[] {
  if (count === 1) return [start];
  return Array.from({ length: count }, (_, i) => roundHalfEven(start + ((stop - start) * i) / (count - 1)));
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The execution order and source mapping for L source layers looped N times. */
export function tyingPlan(
  sourceLayers: number,
  loops: number,
  strategy: SharingStrategy,
  depthFit: DepthFit = 'floor',
): TyingPlan {
  if (!sharingStrategies.includes(strategy)) {
    throw new TyingError(`unknown sharing strategy "${strategy}" (expected ${sharingStrategies.join(', ')})`);
  }
  if (!depthFits.includes(depthFit))
    throw new TyingError(`unknown depth fit "${depthFit}" (expected ${depthFits.join(', ')})`);
  if (!Number.isInteger(loops) || loops < 1) throw new TyingError(`loops must be a positive integer, got ${loops}`);
  const middle = strategy.startsWith('middle-');
  const span = middle ? sourceLayers - 2 : sourceLayers; // layers that get shared
  if (span < 1)
    throw new TyingError(`${strategy} needs at least ${middle ? 3 : 1} source layers, the model has ${sourceLayers}`);
  if (loops > span)
    throw new TyingError(
      `${loops} loops over ${span} shareable layers would leave no layer to share (at most ${span} loops)`,
    );
  const floor = depthFit === 'floor';
  const blockSize = Math.max(1, floor ? Math.floor(span / loops) : Math.round(span / loops));
  const offset = middle ? 1 : 0;
  const sources = (floor ? evenRoundedLinspace : roundedLinspace)(offset, offset + span - 1, blockSize * loops);
  const isCycle = strategy.endsWith('cycle');
  const shared: LayerStep[] = sources.map((sourceLayer, p) => {
    const block = isCycle ? p % blockSize : Math.floor(p / loops);
    const loop = isCycle ? Math.floor(p / blockSize) : p % loops;
    return { unique: block + offset, loop, role: 'shared', sourceLayer };
  });
  const steps = middle
    ? [
        { unique: 0, loop: 0, role: 'first' as const, sourceLayer: 0 },
        ...shared,
        { unique: blockSize + 1, loop: 0, role: 'last' as const, sourceLayer: sourceLayers - 1 },
      ]
    : shared;
  const exact = blockSize * loops === span;
  const rule = floor ? `floor(${span} / ${loops})` : `round(${span} / ${loops})`;
  return {
    strategy,
    depthFit,
    sourceLayers,
    loops,
    blockSize,
    uniqueLayers: blockSize + (middle ? 2 : 0),
    steps,
    pool: floor ? sources : Array.from({ length: span }, (_, i) => offset + i),
    ...(exact
      ? {}
      : {
          warning: `${span} shareable layers do not divide into ${loops} loops: K = ${rule} = ${blockSize}, source layers chosen by round(linspace) = [${sources.join(', ')}]`,
        }),
  };
}

/** Source layers tied into each unique layer (the groups Average init means over). */
export function tiedGroups(plan: TyingPlan): number[][] {
  const groups: number[][] = Array.from({ length: plan.uniqueLayers }, () => []);
  for (const step of plan.steps) {
    const group = groups[step.unique]!;
    if (!group.includes(step.sourceLayer)) group.push(step.sourceLayer);
  }
  return groups;
}

/**
 * The run order of an already-tied block of K layers looped `loops` times — to run a converted
 * model with fewer or more loops than it was built with. Steps past the trained loops reuse the
 * shared weights without loop-specific adapters.
 */
export function loopedOrder(strategy: SharingStrategy, blockSize: number, loops: number): number[] {
  if (!Number.isInteger(loops) || loops < 1) throw new TyingError(`loops must be a positive integer, got ${loops}`);
  const middle = strategy.startsWith('middle-');
  const offset = middle ? 1 : 0;
  const shared = Array.from(
    { length: blockSize * loops },
    (_, p) => offset + (strategy.endsWith('cycle') ? p % blockSize : Math.floor(p / loops)),
  );
  return middle ? [0, ...shared, blockSize + 1] : shared;
}
