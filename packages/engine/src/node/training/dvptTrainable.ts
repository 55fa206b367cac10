import { Decoder } from '@recur/graph';
import { DepthwiseLora, DvptModules, freshDvpt, type DvptShape } from '@recur/lora';
import { tf } from '@recur/tensor';
import { withDvptModules } from '../../dvpt.js';
import type { LoadedModel } from '../../model.js';
import type { TrainableModel } from './trainable.js';

/** New DVPT modules to train on a frozen base (`recur train --trainable dvpt`). */
export type DvptTraining = DvptShape;

/**
 * A trainable copy of `model` where only new DVPT modules train (see @recur/lora's dvpt/op.ts): every
 * base tensor, a converted model's own LoRA included, is a frozen clone; the modules' tensors are the
 * only Variables. The modules start with up = 0, so the copy starts equal to its base.
 */
export function dvptTrainable(
  model: LoadedModel,
  shape: DvptTraining,
  seed: number,
): TrainableModel & { readonly dvpt: DvptModules } {
  if (model.routerParams)
    throw new RangeError(`${model.source.path}: training DVPT on a router model is not supported (tokens skip loops)`);
  const params = new Map<string, tf.Variable>();
  for (const [key, { data, shape: partShape }] of freshDvpt(model.decoder.config, shape, seed))
    params.set(
      key,
      tf.tidy(() => tf.variable(tf.tensor(data, [...partShape], 'float32'), true)), // the initial tensor is freed
    );
  const dvpt = new DvptModules(shape, params);
  const frozen = frozenCopy(model);
  const adapted = withDvptModules(frozen, dvpt);
  const tensors = new Map([...adapted.decoder.weights, ...(adapted.lora?.tensors ?? []), ...params]);
  return { model: adapted, params, tensors, dvpt };
}

/**
 * The model with cloned weights and own LoRA, none of them trainable, so the copy and the original are
 * disposed independently (the original's MASA dictionary and quantized matrices stay with it).
 */
function frozenCopy(model: LoadedModel): LoadedModel {
  const clone = (tensors: ReadonlyMap<string, tf.Tensor>) => new Map([...tensors].map(([k, t]) => [k, tf.clone(t)]));
  const lora = model.lora ? new DepthwiseLora(clone(model.lora.tensors), model.lora.scale) : undefined;
  const decoder = new Decoder(model.decoder.config, clone(model.decoder.weights), lora ? { adapter: lora } : {});
  const { masa: _masa, quantized: _quantized, lora: _lora, ...rest } = model;
  return { ...rest, decoder, ...(lora && { lora }) };
}
