import { gaussianArray } from '@recur/tensor';
import type { DecoderConfig } from '../config.js';
import { layerWeightSpecs } from '../weights.js';
import { evenRoundedLinspace, roundedLinspace, tiedGroups, type TyingPlan } from './sharing.js';

/**
 * How the shared block is initialised from the pretrained layers (Bae et al. 2024, §3.2):
 * stepwise picks layers at even intervals, average means each tied group (norms too), lower takes
 * the first K; upper (last K) and random are extras.
 */
export const initStrategies = ['stepwise', 'average', 'lower', 'upper', 'random'] as const;
export type InitStrategy = (typeof initStrategies)[number];

type Arrays = ReadonlyMap<string, Float32Array>;

/**
 * Weights of the recursive model, keyed like a plain decoder with `plan.uniqueLayers` layers
 * (`model.layers.{unique}.…`); embeddings, final norm and LM head are copied from the source.
 */
export function initRecursiveWeights(
  source: Arrays,
  sourceConfig: DecoderConfig,
  plan: TyingPlan,
  init: InitStrategy,
  seed = 0,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const key of ['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight']) {
    const value = source.get(key);
    if (value) out.set(key, value);
  }
  for (const recipe of sharedLayerRecipes(sourceConfig, plan, init, seed)) {
    out.set(
      recipe.name,
      makeSharedTensor(recipe, (key) => sourceTensor(source, key)),
    );
  }
  return out;
}

/** How one stored tensor of the shared block is made: the mean of these source keys, or random. */
export interface SharedTensorRecipe {
  /** `model.layers.{unique}.{module}` */
  readonly name: string;
  readonly shape: readonly number[];
  /** Source keys averaged (one: a copy); empty for a random tensor. */
  readonly sources: readonly string[];
  /** The random tensor's seed (used when `sources` is empty). */
  readonly seed: number;
}

/**
 * Every stored layer tensor of the recursive model, in stored order, and how to make it — so a
 * streaming converter can make one at a time, reading only the source tensors it names.
 */
export function sharedLayerRecipes(
  sourceConfig: DecoderConfig,
  plan: TyingPlan,
  init: InitStrategy,
  seed = 0,
): SharedTensorRecipe[] {
  const groups = tiedGroups(plan);
  const recipes: SharedTensorRecipe[] = [];
  let drawn = 0; // each random tensor gets its own seed
  for (let unique = 0; unique < plan.uniqueLayers; unique++) {
    const layers = sourceLayersFor(plan, unique, init, groups);
    for (const spec of layerWeightSpecs(sourceConfig, unique)) {
      const module = spec.name.slice(`model.layers.${unique}.`.length);
      const sources = layers ? layers.map((l) => `model.layers.${l}.${module}`) : [];
      recipes.push({ name: spec.name, shape: spec.shape, sources, seed: layers ? 0 : seed * 10_007 + drawn++ });
    }
  }
  return recipes;
}

/** One shared tensor from its recipe; `source` gives a source tensor by key. */
export function makeSharedTensor(recipe: SharedTensorRecipe, source: (key: string) => Float32Array): Float32Array {
  if (recipe.sources.length === 0) return randomTensor(recipe.shape, recipe.name, recipe.seed);
  return meanOf(recipe.sources.map(source));
}

/** The source layers one unique layer is built from; null means random init. */
function sourceLayersFor(plan: TyingPlan, unique: number, init: InitStrategy, groups: number[][]): number[] | null {
  const middle = plan.strategy.startsWith('middle-');
  if (middle && unique === 0) return [0];
  if (middle && unique === plan.uniqueLayers - 1) return [plan.sourceLayers - 1];
  if (init === 'random') return null;
  // Picks index the pool, as the public code indexes its adjusted model (with round: all shareable layers).
  const pool = plan.pool;
  const j = unique - (middle ? 1 : 0); // index inside the shared block
  const K = plan.blockSize;
  switch (init) {
    case 'stepwise': {
      const picks = (plan.depthFit === 'floor' ? evenRoundedLinspace : roundedLinspace)(0, pool.length - 1, K);
      return [pool[picks[j]!]!];
    }
    case 'average':
      return groups[unique]!;
    case 'lower':
      return [pool[j]!];
    case 'upper':
      return [pool[pool.length - K + j]!];
  }
}

function sourceTensor(source: Arrays, key: string): Float32Array {
  const value = source.get(key);
  if (!value) throw new Error(`source model has no ${key}`);
  return value;
}

function meanOf(tensors: Float32Array[]): Float32Array {
  if (tensors.length === 1) return tensors[0]!;
  const out = new Float32Array(tensors[0]!.length);
  for (const t of tensors) for (let i = 0; i < out.length; i++) out[i]! += t[i]! / tensors.length;
  return out;
}

/** N(0, 0.02²) matrices as in HF Llama's init; norm weights at 1. */
function randomTensor(shape: readonly number[], module: string, seed: number): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  if (module.endsWith('norm.weight')) return new Float32Array(size).fill(1);
  return gaussianArray(size, seed).map((v) => 0.02 * v);
}
