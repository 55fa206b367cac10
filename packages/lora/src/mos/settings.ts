/**
 * MoS — "MoS: Unleashing Parameter Efficiency of Low-Rank Adaptation with Mixture of Shards"
 * (Wang et al. 2024, arXiv 2410.00938). Every (layer, loop, module) LoRA keeps its rank, but its rank
 * vectors (rows of A, columns of B) are not stored: each is a concatenation of shards taken from a pool
 * shared by all steps. Four differentiation strategies keep the shared factors from collapsing into one:
 * subset selection, pair dissociation, vector sharding and shard privatisation (below).
 *
 * The paper's "MoE-like routing" is an index table drawn once at random and then fixed (no learned
 * router, no token dependence), so here each step's indices are a seeded draw stored with the model.
 */
export interface MosSettings {
  /** Public shards in each (module, factor) pool, shared by every step. */
  readonly pool: number;
  /** Vector sharding: shards per rank vector (1 = off); must divide the module's in and out sizes. */
  readonly shards: number;
  /** Shard privatisation: the fraction of each step's shard slots filled from shards it alone owns (0 = off). */
  readonly private: number;
  /** Subset selection: each step draws its public shards from the pool (off: every step uses the same first ones). */
  readonly subset: boolean;
  /** Pair dissociation: A and B draw their shards independently (off: slot j of B uses A's index). */
  readonly dissociation: boolean;
  /** Seed of the index draw and of the A-pool init. */
  readonly seed: number;
}

export const defaultMosSettings: MosSettings = {
  pool: 32,
  shards: 2,
  private: 0.25,
  subset: true,
  dissociation: true,
  seed: 0,
};

/**
 * The `mos` part of a converted model's `recur` section: the settings and the adapted steps in index-table
 * row order ([stored layer, loop] each), so a loader knows which step row s of every table belongs to.
 */
export interface MosSection extends MosSettings {
  readonly steps: readonly (readonly [number, number])[];
}
