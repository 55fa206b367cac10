import { Decoder } from '@recur/graph';
import { sumLoras, type DepthwiseLora } from '@recur/lora';
import type { LoadedModel } from './model.js';

/**
 * The model with extra LoRA adapters whose deltas add to its own (a converted model's depth-wise
 * LoRA first): one summed DepthwiseLora (see sumLoras) plugged into a new Decoder over the same
 * weights. Other ways to compose adapters (learned scales, gates) are not sums and are not done here.
 * Takes ownership of `model` and of `adapters` (freed once summed); dispose the result with disposeModel.
 */
export function withAdapters(model: LoadedModel, adapters: readonly DepthwiseLora[]): LoadedModel {
  if (adapters.length === 0) return model;
  const parts = model.lora ? [model.lora, ...adapters] : adapters;
  const lora = sumLoras(parts);
  for (const part of parts) part.dispose();
  const decoder = new Decoder(model.decoder.config, model.decoder.weights, { adapter: lora });
  return { ...model, decoder, lora };
}
