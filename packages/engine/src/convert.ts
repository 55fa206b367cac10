import { adaptedModules, Decoder, executionSteps, type TyingPlan } from '@recur/graph';
import {
  DepthwiseLora,
  GeneratedLora,
  MosLora,
  sharedSteps,
  type ArrayTensor,
  type TruncationEnergy,
} from '@recur/lora';
import { conversionPlan, type Conversion } from './conversion/plan.js';
import type { ConversionSource, ConvertOptions } from './conversion/options.js';
import type { LoadedModel } from './model.js';
import type { RecurSection } from './recurConfig.js';

export type { ConvertOptions } from './conversion/options.js';

export interface ConvertedModel extends LoadedModel {
  readonly plan: TyingPlan;
  readonly lora: DepthwiseLora;
  /** Per SVD-initialised adapter, the share of its residual's energy the rank keeps. */
  readonly loraEnergy: readonly TruncationEnergy[];
  /** Unique parameters of the shared model plus its adapters (a generated kind's stored ones, not the materialised). */
  readonly parameters: { readonly shared: number; readonly lora: number; readonly source: number };
  /** What to write into config.json so the model can be reloaded. */
  readonly recur: RecurSection;
}

/**
 * A loaded model turned into a Relaxed Recursive Transformer (Bae et al. 2024): its layers tied
 * into a looped block, initialised from the pretrained ones, plus depth-wise LoRA. The in-memory
 * executor of `conversionPlan` (the streamed one, `node/convertStream.ts`, writes the same tensors
 * to a folder): every planned tensor is made from the loaded decoder's weights and kept.
 */
export async function convertModel(model: LoadedModel, options: ConvertOptions): Promise<ConvertedModel> {
  if (model.masa)
    throw new RangeError(
      `${model.source.path}: a MASA model is not looped (its attention is already shared as atoms); convert its source instead`,
    );
  const conversion = conversionPlan(decoderSource(model), options);
  const decoderArrays = new Map<string, Float32Array>();
  for (const tensor of conversion.decoder) decoderArrays.set(tensor.name, await tensor.data());
  const loraArrays = new Map<string, ArrayTensor>();
  for (const tensor of conversion.lora) loraArrays.set(tensor.name, { data: await tensor.data(), shape: tensor.shape });
  const total = sharedSteps(conversion.plan).length * adaptedModules.length;
  options.onProgress?.(total, total);
  const { stored, lora } = loraOf(conversion, loraArrays, options.loraScale ?? 1);
  const decoder = Decoder.fromArrays(conversion.config, decoderArrays, { adapter: lora });
  return {
    ...model,
    config: { ...model.config, numLayers: conversion.plan.uniqueLayers },
    decoder,
    plan: conversion.plan,
    lora,
    ...(stored instanceof MosLora && { mos: stored }),
    ...(stored instanceof GeneratedLora && { generatedLora: stored }),
    loraEnergy: conversion.loraEnergy,
    parameters: { shared: decoder.parameterCount, lora: stored.parameterCount, source: model.decoder.parameterCount },
    recur: conversion.recur,
  };
}

/**
 * The LoRA as stored and as executors run it: MoS and the generated kinds run as dense per-loop LoRA
 * (the fast path, export); their stored form is what trains and saves.
 */
function loraOf(
  conversion: Conversion,
  arrays: ReadonlyMap<string, ArrayTensor>,
  scale: number,
): { stored: DepthwiseLora | MosLora | GeneratedLora; lora: DepthwiseLora } {
  if (conversion.generated) {
    const generated = GeneratedLora.fromArrays(conversion.generated, arrays, scale);
    return { stored: generated, lora: generated.materialise(executionSteps(conversion.config)) };
  }
  if (conversion.mos) {
    const mos = MosLora.fromArrays(arrays, conversion.mos.section, scale);
    return { stored: mos, lora: mos.materialise() };
  }
  const lora = DepthwiseLora.fromArrays(arrays, scale);
  return { stored: lora, lora };
}

/** A loaded model's decoder as a conversion's source: each weight read (once) from the backend. */
function decoderSource(model: LoadedModel): ConversionSource {
  const read = new Map<string, Promise<Float32Array>>();
  return {
    path: model.source.path,
    config: model.decoder.config,
    parameters: model.decoder.parameterCount,
    read: (key) => {
      const tensor = model.decoder.weights.get(key);
      if (!tensor) return Promise.reject(new Error(`source model has no ${key}`));
      if (!read.has(key)) read.set(key, tensor.data() as Promise<Float32Array>);
      return read.get(key)!;
    },
  };
}

/** The decoder's weights as plain arrays by checkpoint key. */
export async function weightArrays(decoder: Decoder): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [key, tensor] of decoder.weights) out.set(key, (await tensor.data()) as Float32Array);
  return out;
}
