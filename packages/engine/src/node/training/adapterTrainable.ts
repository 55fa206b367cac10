import { Decoder, type AdaptedModule } from '@recur/graph';
import { DepthwiseLora, freshLora, stackAdapters } from '@recur/lora';
import { tf } from '@recur/tensor';
import type { LoadedModel } from '../../model.js';
import type { TrainableModel } from './trainable.js';

/** A new LoRA to train on a frozen base (`recur train --lora-rank R`). */
export interface AdapterTraining {
  readonly rank: number;
  /** Projections it adapts (default: all seven). */
  readonly modules?: readonly AdaptedModule[];
  /** PEFT's lora_alpha: the delta is scaled by alpha / rank (default: rank, i.e. 1). */
  readonly alpha?: number;
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
): TrainableModel & { readonly adapter: DepthwiseLora } {
  if (model.routerParams)
    throw new RangeError(`${model.source.path}: training a new LoRA on a router model is not supported`);
  const arrays = freshLora({
    config: model.decoder.config,
    rank: training.rank,
    ...(training.modules && { modules: training.modules }),
    seed,
  });
  const factors = new Map<string, tf.Tensor>();
  const params = new Map<string, tf.Variable>();
  for (const [key, { data, shape }] of arrays) {
    const variable = tf.variable(tf.tensor(data, [...shape], 'float32'), true);
    factors.set(key, variable);
    params.set(`${ADAPTER_PREFIX}${key}`, variable);
  }
  const adapter = new DepthwiseLora(factors, (training.alpha ?? training.rank) / training.rank);
  const clone = (tensors: ReadonlyMap<string, tf.Tensor>) => new Map([...tensors].map(([k, t]) => [k, tf.clone(t)]));
  const weights = clone(model.decoder.weights);
  const own = model.lora ? new DepthwiseLora(clone(model.lora.tensors), model.lora.scale) : undefined;
  const decoder = new Decoder(model.decoder.config, weights, {
    adapter: own ? stackAdapters([own, adapter]) : adapter,
  });
  const { generatedLora: _stored, ...base } = model; // the frozen base runs its materialised LoRA (`own`)
  return {
    model: { ...base, decoder, ...(own && { lora: own }) },
    params,
    tensors: new Map([...weights, ...(own?.tensors ?? []), ...params]),
    adapter,
  };
}
