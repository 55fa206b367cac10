import type { ModelConfig } from '@recur/checkpoint';
import { unrollRecursive } from '@recur/graph';
import { mergeDepthwiseLora, toPeftAdapter, type PeftAdapter } from '@recur/lora';
import type { LoadedModel } from './model.js';

/** What happens to a converted model's depth-wise LoRA on export. */
export type LoraExport = 'merge' | 'peft' | 'drop';

export interface PlainModel {
  /** A plain Llama config (numLayers = executed steps; no recur section). */
  readonly config: ModelConfig;
  readonly arrays: Map<string, Float32Array>;
  /** With `lora: 'peft'`: the adapters, targeting this plain model. */
  readonly adapter?: PeftAdapter;
}

/**
 * Any model Recur holds as a plain (untied) Llama that other tools can run: a recursive model is
 * unrolled to one layer per executed step; its LoRA is folded into the weights ('merge', same
 * outputs), kept as a PEFT adapter over the unrolled base ('peft'; refused for per-loop norms,
 * which PEFT cannot hold), or left out ('drop').
 */
export function plainModel(
  model: LoadedModel,
  options: { lora: LoraExport; baseModelPath?: string; dropRouter?: boolean },
): PlainModel {
  const router = model.recur?.router;
  if (router && !options.dropRouter) {
    // A plain Llama has no place for per-token depth: the export would run every token through every loop, ungated.
    throw new RangeError(
      `${model.source.path}: its ${router.kind}-choice MoR router cannot go into a plain Llama export; pass --drop-router to export it at full depth without the router`,
    );
  }
  const arrays = new Map<string, Float32Array>();
  for (const [key, tensor] of model.decoder.weights) arrays.set(key, tensor.dataSync() as Float32Array);
  // MASA: a plain Llama holds no atoms, so every W_l goes in materialised (a loaded model's decoder already has them)
  const masa = model.masa?.dictionary;
  if (masa && [...masa.keys].some((key) => !arrays.has(key)))
    for (const [key, data] of masa.materialise()) arrays.set(key, data);
  const unrolled = unrollRecursive(model.decoder.config, arrays);
  const config: ModelConfig = { ...model.config, numLayers: unrolled.config.numLayers };
  if (!model.lora || options.lora === 'drop') return { config, arrays: unrolled.arrays };
  if (options.lora === 'merge')
    return { config, arrays: mergeDepthwiseLora(unrolled.arrays, unrolled.steps, model.lora) };
  const norm = [...model.lora.tensors.keys()].find((key) => !key.includes('.lora_'));
  if (norm !== undefined) {
    // PEFT has no per-loop RMSNorm weights: an adapter would silently drop them (perplexity 3228 → 4382 in issue 13).
    throw new RangeError(
      `${model.source.path}: its per-loop norms (e.g. ${norm}) cannot go into a PEFT adapter; export with --lora merge, which folds them in exactly`,
    );
  }
  return {
    config,
    arrays: unrolled.arrays,
    adapter: toPeftAdapter(model.lora, unrolled.steps, options.baseModelPath ?? ''),
  };
}
