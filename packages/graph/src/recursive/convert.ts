import type { DecoderConfig } from '../config.js';
import { initRecursiveWeights, initStrategies, type InitStrategy } from './init.js';
import { tyingPlan, TyingError, type DepthFit, type SharingStrategy, type TyingPlan } from './sharing.js';

export interface RecursiveOptions {
  readonly loops: number;
  readonly strategy: SharingStrategy;
  readonly init: InitStrategy;
  /** How K is fitted when the depth does not divide by the loops (default floor, the public code's rule). */
  readonly depthFit?: DepthFit;
  /** Seed of the random init. */
  readonly seed?: number;
}

export interface RecursiveModelSpec {
  /** A decoder config with `plan.uniqueLayers` stored layers run in `layerOrder`. */
  readonly config: DecoderConfig;
  readonly arrays: Map<string, Float32Array>;
  readonly plan: TyingPlan;
}

/** Ties a pretrained decoder's layers into a looped shared block (no LoRA yet). */
export function recursiveFromPretrained(
  sourceConfig: DecoderConfig,
  source: ReadonlyMap<string, Float32Array>,
  options: RecursiveOptions,
): RecursiveModelSpec {
  const { config, plan } = recursivePlan(sourceConfig, options);
  return { config, arrays: initRecursiveWeights(source, sourceConfig, plan, options.init, options.seed ?? 0), plan };
}

/** The recursive model's config and tying plan, without its weights (checks the options). */
export function recursivePlan(
  sourceConfig: DecoderConfig,
  options: RecursiveOptions,
): Omit<RecursiveModelSpec, 'arrays'> {
  if (!initStrategies.includes(options.init)) {
    throw new TyingError(`unknown init "${options.init}" (expected ${initStrategies.join(', ')})`);
  }
  if (sourceConfig.layerOrder)
    throw new TyingError('the source model is already recursive; convert its original instead');
  const plan = tyingPlan(sourceConfig.numLayers, options.loops, options.strategy, options.depthFit ?? 'floor');
  const config: DecoderConfig = {
    ...sourceConfig,
    numLayers: plan.uniqueLayers,
    layerOrder: plan.steps.map((s) => s.unique),
  };
  return { config, plan };
}
