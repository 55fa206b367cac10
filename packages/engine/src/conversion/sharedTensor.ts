import { makeSharedTensor, type SharedTensorRecipe } from '@recur/graph';
import type { ConversionSource } from './options.js';

/** One stored tensor of the shared block, made from the source tensors its recipe averages (read for it alone). */
export async function sharedTensor(source: ConversionSource, recipe: SharedTensorRecipe): Promise<Float32Array> {
  const inputs = new Map<string, Float32Array>();
  for (const key of recipe.sources) inputs.set(key, await source.read(key));
  return makeSharedTensor(recipe, (key) => inputs.get(key)!);
}
