import type { ModelConfig } from '@recur/checkpoint';
import { unrolledLayout } from '@recur/graph';
import { mergedStepTensor, toPeftAdapter, type PeftAdapter } from '@recur/lora';
import type { LoadedModel } from './model.js';

/** What happens to a converted model's depth-wise LoRA on export. */
export type LoraExport = 'merge' | 'peft' | 'drop';

/** A plain model's tensors by HF key, in file order, each made when asked for (one at a time, nothing kept). */
export interface PlainTensors {
  readonly names: readonly string[];
  get(name: string): Float32Array | undefined;
}

export interface PlainModel {
  /** A plain Llama config (numLayers = executed steps; no recur section). */
  readonly config: ModelConfig;
  readonly arrays: PlainTensors;
  /** With `lora: 'peft'`: the adapters, targeting this plain model. */
  readonly adapter?: PeftAdapter;
}

/**
 * Any model Recur holds as a plain (untied) Llama that other tools can run: a recursive model is
 * unrolled to one layer per executed step; its LoRA is folded into the weights ('merge', same
 * outputs), kept as a PEFT adapter over the unrolled base ('peft'; refused for per-loop norms,
 * which PEFT cannot hold), or left out ('drop'). Tensors are made one at a time as a writer asks
 * (read out of the backend, merged), so exporting holds the model plus one output tensor.
 */
export function plainModel(
  model: LoadedModel,
  options: { lora: LoraExport; baseModelPath?: string; dropRouter?: boolean },
): PlainModel {
  if (model.composition?.fusion)
    // its mixing weights are a function of each token's hidden state: no fixed weights compute them
    throw new RangeError(
      `${model.composition.dir}: a gated composition mixes its adapters per token and cannot fold into dense weights or one adapter; only ScaLearn compositions export`,
    );
  const router = model.recur?.router;
  if (router && !options.dropRouter) {
    // A plain Llama has no place for per-token depth: the export would run every token through every loop, ungated.
    throw new RangeError(
      `${model.source.path}: its ${router.kind}-choice MoR router cannot go into a plain Llama export; pass --drop-router to export it at full depth without the router`,
    );
  }
  // MASA: a plain Llama holds no atoms, so every W_l goes in materialised (a loaded model's decoder already
  // has them; a training copy rebuilds them from its atoms at each use, so they are materialised here)
  const masa = model.masa?.dictionary;
  const missing = masa && [...masa.keys].some((key) => !model.decoder.weights.has(key));
  const materialised = missing ? masa.materialise() : undefined;
  const keys = new Set([...model.decoder.weights.keys(), ...(materialised?.keys() ?? [])]);
  const layout = unrolledLayout(model.decoder.config, [...keys]);
  const config: ModelConfig = { ...model.config, numLayers: layout.config.numLayers };
  const lora = options.lora === 'drop' ? undefined : model.lora;
  const stored = (key: string) =>
    (model.decoder.weights.get(key)?.dataSync() as Float32Array | undefined) ?? materialised?.get(key);
  const arrays: PlainTensors = {
    names: [...layout.tensors.keys()],
    get: (name) => {
      const source = layout.tensors.get(name);
      const base = source && stored(source.from);
      if (!source?.call || !source.module || !lora || options.lora !== 'merge') return base;
      return mergedStepTensor(base, source.call, source.module, lora);
    },
  };
  if (!lora || options.lora !== 'peft') return { config, arrays };
  const norm = [...lora.tensors.keys()].find((key) => !key.includes('.lora_'));
  if (norm !== undefined) {
    // PEFT has no per-loop RMSNorm weights: an adapter would silently drop them (perplexity 3228 → 4382 in issue 13).
    throw new RangeError(
      `${model.source.path}: its per-loop norms (e.g. ${norm}) cannot go into a PEFT adapter; export with --lora merge, which folds them in exactly`,
    );
  }
  return { config, arrays, adapter: toPeftAdapter(lora, layout.steps, options.baseModelPath ?? '') };
}

/** Every tensor of a plain model made at once (what a caller that wants plain arrays uses). */
export function plainArrays(plain: Pick<PlainModel, 'arrays'>): Map<string, Float32Array> {
  return new Map(plain.arrays.names.map((name) => [name, plain.arrays.get(name)!]));
}
