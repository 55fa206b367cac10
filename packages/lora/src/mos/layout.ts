import { adaptedModules, type AdaptedModule } from '@recur/graph';
import { Mulberry32 } from '@recur/tensor';
import { LoraError } from '../init.js';
import type { MosSettings } from './settings.js';

/** How one module's LoRA is cut into shards and where its pools' rows go. */
export interface MosModuleLayout {
  readonly module: AdaptedModule;
  readonly rank: number;
  readonly shards: number;
  /** [out, in] of the module's weight. */
  readonly shape: readonly [number, number];
  /** Shard slots of one step: rank × shards (A's and B's alike). */
  readonly slots: number;
  /** Slots of each step filled from its own private shards. */
  readonly privatePerStep: number;
  /** Rows of the pool's public part (the first rows); private rows follow, step by step. */
  readonly publicRows: number;
  /** Rows of each pool: publicRows + steps × privatePerStep. */
  readonly poolRows: number;
}

/** Index tables of one module: row s, slot i·shards + k = the pool row of rank vector i's k-th shard at step s. */
export interface MosTables {
  readonly layout: MosModuleLayout;
  /** [steps, slots] into the A pool. */
  readonly a: Int32Array;
  /** [steps, slots] into the B pool. */
  readonly b: Int32Array;
}

/** A module's layout, or a LoraError naming the setting that does not fit it. */
export function mosModuleLayout(
  module: AdaptedModule,
  shape: readonly [number, number],
  rank: number,
  settings: MosSettings,
  steps: number,
): MosModuleLayout {
  const { shards } = settings;
  const [out, inputs] = shape;
  if (!Number.isInteger(shards) || shards < 1 || out % shards !== 0 || inputs % shards !== 0)
    throw new LoraError(`--mos-shards ${shards} must divide both sizes of ${module} [${out}, ${inputs}]`);
  if (!(settings.private >= 0 && settings.private <= 1))
    throw new LoraError(`--mos-private must be a fraction in [0, 1], got ${settings.private}`);
  const slots = rank * shards;
  const privatePerStep = Math.round(settings.private * slots);
  const publicSlots = slots - privatePerStep;
  // without subset selection every step takes the same first publicSlots shards: a larger pool is dead weight
  const publicRows = settings.subset ? settings.pool : publicSlots;
  if (!Number.isInteger(settings.pool) || settings.pool < 1)
    throw new LoraError(`--mos-pool must be an integer ≥ 1, got ${settings.pool}`);
  if (publicRows < publicSlots)
    throw new LoraError(
      `--mos-pool ${settings.pool} is smaller than the ${publicSlots} public shards one step of ${module} needs (rank ${rank} × ${shards} shards, ${privatePerStep} private)`,
    );
  return {
    module,
    rank,
    shards,
    shape,
    slots,
    privatePerStep,
    publicRows,
    poolRows: publicRows + steps * privatePerStep,
  };
}

/**
 * The fixed, seeded index selection of one module (the paper's index-based routing). Step s gets its
 * private rows publicRows + s·P … (+P − 1) in its first P slots, then public rows: a draw without
 * replacement from the public part (subset selection) or rows 0, 1, … (no subset selection). With pair
 * dissociation B makes its own draw; without it B's table is A's, so shard pairs stay together.
 */
export function mosTablesFor(layout: MosModuleLayout, steps: number, settings: MosSettings): MosTables {
  const moduleSeed = (factor: number) =>
    (settings.seed * 7919 + adaptedModules.indexOf(layout.module) * 2 + factor) >>> 0;
  const a = drawTable(layout, steps, new Mulberry32(moduleSeed(0)), settings.subset);
  // dissociated B always shuffles: without subset selection it uses the same rows as A in its own order per step
  const b = settings.dissociation ? drawTable(layout, steps, new Mulberry32(moduleSeed(1)), true) : a;
  return { layout, a, b };
}

function drawTable(layout: MosModuleLayout, steps: number, rng: Mulberry32, subset: boolean): Int32Array {
  const { slots, privatePerStep: p, publicRows } = layout;
  const table = new Int32Array(steps * slots); // [steps, slots]
  const rows = Array.from({ length: publicRows }, (_, i) => i);
  for (let s = 0; s < steps; s++) {
    for (let j = 0; j < p; j++) table[s * slots + j] = publicRows + s * p + j;
    for (let j = 0; j < slots - p; j++) {
      // partial Fisher–Yates: the first slots − p entries of `rows` become a uniform draw without replacement
      if (subset) {
        const pick = j + rng.nextInt(publicRows - j);
        [rows[j], rows[pick]] = [rows[pick]!, rows[j]!];
      }
      table[s * slots + p + j] = subset ? rows[j]! : j;
    }
  }
  return table;
}

/** Depth-wise LoRA parameters at the same ranks: steps × rank × (in + out). */
export const depthwiseEquivalent = (layout: MosModuleLayout, steps: number): number =>
  steps * layout.rank * (layout.shape[0] + layout.shape[1]);

/** Parameters of a module's two pools. */
export const mosPoolParameters = (layout: MosModuleLayout): number =>
  layout.poolRows * ((layout.shape[0] + layout.shape[1]) / layout.shards);
