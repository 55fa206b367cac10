import { adaptedModules, type AdaptedModule, type DecoderConfig } from '@recur/graph';
import { gaussianArray } from '@recur/tensor';
import { projectionShape } from '../fresh.js';
import { LoraError, type ArrayTensor } from '../init.js';
import { rankFor, type LoraRanks } from '../ranks.js';
import { mosIndexKey, mosPoolKey } from './keys.js';
import {
  depthwiseEquivalent,
  mosModuleLayout,
  mosPoolParameters,
  mosTablesFor,
  type MosModuleLayout,
  type MosTables,
} from './layout.js';
import type { MosSection, MosSettings } from './settings.js';

export interface MosInitOptions {
  readonly config: DecoderConfig;
  /** The adapted steps, [stored layer, loop], in table-row order. */
  readonly steps: readonly (readonly [number, number])[];
  readonly ranks: LoraRanks;
  readonly settings: MosSettings;
}

/** Every module's layout and index tables (modules of rank 0 have none). */
export function mosTables(options: MosInitOptions): Map<AdaptedModule, MosTables> {
  const tables = new Map<AdaptedModule, MosTables>();
  for (const module of adaptedModules) {
    const shape = projectionShape(options.config, module);
    const rank = rankFor(options.ranks, module, shape);
    if (!Number.isInteger(rank) || rank < 0 || rank > Math.min(...shape))
      throw new LoraError(
        `LoRA rank ${rank} does not fit ${module} [${shape.join(', ')}] (at most ${Math.min(...shape)})`,
      );
    if (rank === 0) continue;
    const layout = mosModuleLayout(module, shape, rank, options.settings, options.steps.length);
    tables.set(module, mosTablesFor(layout, options.steps.length, options.settings));
  }
  return tables;
}

/**
 * A new MoS LoRA: the section to save and its tensors (pools, then index tables, by module). Init: the
 * A pool Gaussian with variance 1/in (each gathered A row then maps unit-variance inputs to unit-variance
 * outputs, as a fresh LoRA's A), the B pool zero — so every step's B is zero and the converted model
 * equals the tied one at step 0. An SVD start has no clear meaning when factors share shards.
 */
export function initMosLora(options: MosInitOptions): { section: MosSection; arrays: Map<string, ArrayTensor> } {
  const arrays = new Map<string, ArrayTensor>();
  for (const [module, tables] of mosTables(options)) {
    const { poolRows, shards, shape } = tables.layout;
    const [out, inputs] = shape;
    const seed = (options.settings.seed * 10_007 + adaptedModules.indexOf(module)) >>> 0;
    const a = gaussianArray(poolRows * (inputs / shards), seed).map((v) => v / Math.sqrt(inputs)); // [rows, in/K]
    arrays.set(mosPoolKey(module, 'A'), { data: a, shape: [poolRows, inputs / shards] });
    arrays.set(mosPoolKey(module, 'B'), {
      data: new Float32Array(poolRows * (out / shards)),
      shape: [poolRows, out / shards],
    });
    for (const factor of ['A', 'B'] as const) {
      const table = factor === 'A' ? tables.a : tables.b;
      arrays.set(mosIndexKey(module, factor), {
        data: Float32Array.from(table),
        shape: [options.steps.length, tables.layout.slots],
      });
    }
  }
  return { section: { ...options.settings, steps: options.steps }, arrays };
}

/** Unique LoRA parameters of MoS (both pools of every module) against depth-wise LoRA at the same ranks. */
export function mosParameterCounts(
  tables: ReadonlyMap<AdaptedModule, MosTables>,
  steps: number,
): {
  mos: number;
  depthwise: number;
} {
  let mos = 0;
  let depthwise = 0;
  for (const { layout } of tables.values()) {
    mos += mosPoolParameters(layout);
    depthwise += depthwiseEquivalent(layout, steps);
  }
  return { mos, depthwise };
}

export type { MosModuleLayout };
