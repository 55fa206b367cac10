import { Decoder, executionSteps, recursiveFromPretrained, type RecursiveOptions, type TyingPlan } from '@recur/graph';
import {
  DepthwiseLora,
  GeneratedLora,
  generatedKind,
  initDepthwiseLora,
  initGeneratedLora,
  type LoraInit,
  type LoraKindSpec,
  type LoraRanks,
  type NormMode,
  type TruncationEnergy,
} from '@recur/lora';
import type { LoadedModel } from './model.js';
import type { RecurSection } from './recurConfig.js';

export interface ConvertOptions extends RecursiveOptions {
  /** LoRA ranks per module group; 0 for no adapters. */
  readonly ranks: LoraRanks;
  readonly loraInit: LoraInit;
  readonly norms: NormMode;
  /** Multiplier of B·A; 1 keeps SVD-initialised factors exact. */
  readonly loraScale?: number;
  /** How the per-loop LoRA is stored: depthwise (default), or generated (hyper, scaled; see @recur/lora kinds.ts). */
  readonly loraKind?: LoraKindSpec;
  /** Progress of the LoRA initialisation (one unit per shared step × module). */
  readonly onProgress?: (done: number, total: number) => void;
}

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
 * into a looped block, initialised from the pretrained ones, plus depth-wise LoRA.
 */
export async function convertModel(model: LoadedModel, options: ConvertOptions): Promise<ConvertedModel> {
  if (model.masa)
    throw new RangeError(
      `${model.source.path}: a MASA model is not looped (its attention is already shared as atoms); convert its source instead`,
    );
  const source = await weightArrays(model.decoder);
  const spec = recursiveFromPretrained(model.decoder.config, source, options);
  const loraEnergy: TruncationEnergy[] = [];
  const generated = generatedKind(options.loraKind)
    ? GeneratedLora.fromArrays(
        options.loraKind!,
        initGeneratedLora({
          spec: options.loraKind!,
          plan: spec.plan,
          sourceConfig: model.decoder.config,
          source,
          shared: spec.arrays,
          ranks: options.ranks,
          init: options.loraInit,
          norms: options.norms,
          seed: options.seed ?? 0,
        }),
        options.loraScale ?? 1,
      )
    : undefined;
  // a generated kind runs as its dense per-loop LoRA (the fast path, export); its stored form trains and saves
  const lora = generated
    ? generated.materialise(executionSteps(spec.config))
    : DepthwiseLora.fromArrays(depthwiseArrays(model, spec, source, options, loraEnergy), options.loraScale ?? 1);
  const decoder = Decoder.fromArrays(spec.config, spec.arrays, { adapter: lora });
  const recur: RecurSection = {
    strategy: options.strategy,
    loops: options.loops,
    blockSize: spec.plan.blockSize,
    init: options.init,
    // hyper always starts at the tied model (zero B generators), whatever --lora-init says
    loraInit: generated?.spec.kind === 'hyper' ? 'zero' : options.loraInit,
    ranks: options.ranks,
    norms: options.norms,
    loraScale: options.loraScale ?? 1,
    ...(generated ? { loraKind: generated.spec } : {}),
    layerOrder: spec.config.layerOrder ?? [],
    source: { path: model.source.path, numLayers: model.config.numLayers, parameters: model.decoder.parameterCount },
  };
  const loraParameters = generated?.parameterCount ?? lora.parameterCount;
  return {
    ...model,
    config: { ...model.config, numLayers: spec.plan.uniqueLayers },
    decoder,
    plan: spec.plan,
    lora,
    ...(generated ? { generatedLora: generated } : {}),
    loraEnergy,
    parameters: { shared: decoder.parameterCount, lora: loraParameters, source: model.decoder.parameterCount },
    recur,
  };
}

function depthwiseArrays(
  model: LoadedModel,
  spec: ReturnType<typeof recursiveFromPretrained>,
  source: ReadonlyMap<string, Float32Array>,
  options: ConvertOptions,
  loraEnergy: TruncationEnergy[],
): ReturnType<typeof initDepthwiseLora> {
  return initDepthwiseLora({
    onEnergy: (e) => loraEnergy.push(e),
    plan: spec.plan,
    sourceConfig: model.decoder.config,
    source,
    shared: spec.arrays,
    ranks: options.ranks,
    init: options.loraInit,
    norms: options.norms,
    seed: options.seed ?? 0,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}

/** The decoder's weights as plain arrays by checkpoint key. */
export async function weightArrays(decoder: Decoder): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [key, tensor] of decoder.weights) out.set(key, (await tensor.data()) as Float32Array);
  return out;
}
