import { Decoder, executionSteps, type AdaptedModule } from '@recur/graph';
import { DepthwiseLora, freshLora, initMosLora, MosLora, stackAdapters, type MosSettings } from '@recur/lora';
import { tf } from '@recur/tensor';
import { loraLayerFilter, type LoraTargets } from '../../diagnose/loraLayers.js';
import type { LoadedModel } from '../../model.js';
import type { TrainableModel } from './trainable.js';

/** A new LoRA to train on a frozen base (`recur train --lora-rank R`). */
export interface AdapterTraining {
  readonly rank: number;
  /** Projections it adapts (default: all seven). */
  readonly modules?: readonly AdaptedModule[];
  /** PEFT's lora_alpha: the delta is scaled by alpha / rank (default: rank, i.e. 1). */
  readonly alpha?: number;
  /**
   * A MoS adapter (Wang et al. 2024, arXiv 2410.00938) instead of one factor pair per step: every step's
   * factors gathered from pools shared across layers and loops; saved materialised, as a PEFT adapter.
   */
  readonly mos?: MosSettings;
  /**
   * Only these stored layers (and loops) get factors (`--lora-layers`, e.g. the diagnosed inflection
   * layers); absent: every executed step. Depth-wise only (MoS pools are shared by every layer).
   */
  readonly targets?: LoraTargets;
}

/** Checkpoint names of the new adapter's factors, kept apart from a converted model's own LoRA keys. */
export const ADAPTER_PREFIX = 'adapter.';

/**
 * A trainable copy of `model` where only a new LoRA trains: every base tensor (a converted model's own
 * depth-wise LoRA included) is a frozen clone, and the new factors, one pair per executed step and
 * module, are the only Variables. Returns the adapter too (free it with the model).
 */
export function adapterTrainable(
  model: LoadedModel,
  training: AdapterTraining,
  seed: number,
): TrainableModel & { readonly adapter: DepthwiseLora | MosLora } {
  if (model.routerParams)
    throw new RangeError(`${model.source.path}: training a new LoRA on a router model is not supported`);
  if (training.mos && training.targets)
    throw new RangeError('a MoS adapter cannot be limited to some layers: its shard pools are shared by every layer');
  const scale = (training.alpha ?? training.rank) / training.rank;
  const { adapter, params } = training.mos
    ? freshMos(model, training, training.mos, seed, scale)
    : freshDepthwise(model, training, seed, scale);
  const clone = (tensors: ReadonlyMap<string, tf.Tensor>) => new Map([...tensors].map(([k, t]) => [k, tf.clone(t)]));
  const weights = clone(model.decoder.weights);
  const own = model.lora ? new DepthwiseLora(clone(model.lora.tensors), model.lora.scale) : undefined;
  const decoder = new Decoder(model.decoder.config, weights, {
    adapter: own ? stackAdapters([own, adapter]) : adapter,
  });
  // a MoS or generated base's stored form stays with the original; its materialised factors (`own`) run here
  const { mos: _pools, generatedLora: _stored, ...base } = model;
  return {
    model: { ...base, decoder, ...(own && { lora: own }) },
    params,
    tensors: new Map([...weights, ...(own?.tensors ?? []), ...params]),
    adapter,
  };
}

/** One A, B pair per executed step (or targeted step) and module, the factors themselves the Variables. */
function freshDepthwise(
  model: LoadedModel,
  training: AdapterTraining,
  seed: number,
  scale: number,
): { adapter: DepthwiseLora; params: Map<string, tf.Variable> } {
  const arrays = freshLora({
    config: model.decoder.config,
    rank: training.rank,
    ...(training.modules && { modules: training.modules }),
    seed,
  });
  const targeted = training.targets ? loraLayerFilter(training.targets) : () => true;
  const factors = new Map<string, tf.Tensor>();
  const params = new Map<string, tf.Variable>();
  for (const [key, { data, shape }] of arrays) {
    if (!targeted(key)) continue;
    // tidy: the starting tensor's handle goes (the variable keeps its data), so a run leaves no tensor behind
    const variable = tf.tidy(() => tf.variable(tf.tensor(data, [...shape], 'float32'), true));
    factors.set(key, variable);
    params.set(`${ADAPTER_PREFIX}${key}`, variable);
  }
  return { adapter: new DepthwiseLora(factors, scale), params };
}

/** MoS pools for every executed step at rank `training.rank`, the pools the Variables (zero B pool: starts at the base). */
function freshMos(
  model: LoadedModel,
  training: AdapterTraining,
  settings: MosSettings,
  seed: number,
  scale: number,
): { adapter: MosLora; params: Map<string, tf.Variable> } {
  const config = model.decoder.config;
  const steps = executionSteps(config).map((s) => [s.unique, s.loop] as const);
  const ranks = { attention: training.rank, mlp: training.rank };
  const { section, arrays } = initMosLora({ config, steps, ranks, settings: { ...settings, seed } });
  const made = MosLora.fromArrays(arrays, section, scale);
  const pools = new Map<string, tf.Tensor>();
  const params = new Map<string, tf.Variable>();
  for (const [key, pool] of made.pools) {
    const variable = tf.tidy(() => tf.variable(tf.clone(pool), true));
    pools.set(key, variable);
    params.set(`${ADAPTER_PREFIX}${key}`, variable);
  }
  made.dispose();
  return { adapter: new MosLora(pools, made.tables, section, new Map(), scale), params };
}
