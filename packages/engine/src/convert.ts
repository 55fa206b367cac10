import { Decoder, recursiveFromPretrained, type RecursiveOptions, type TyingPlan } from '@recur/graph';
import {
  DepthwiseLora,
  initDepthwiseLora,
  initMosLora,
  MosLora,
  sharedSteps,
  type LoraInit,
  type LoraKind,
  type LoraRanks,
  type MosSettings,
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
  /** How the per-loop LoRA is stored: 'depthwise' (default) or 'mos' (factors gathered from shared shard pools). */
  readonly loraKind?: LoraKind;
  /** loraKind 'mos': pool size, shards per vector, private fraction, strategy switches, seed. */
  readonly mos?: MosSettings;
  /** Progress of the LoRA initialisation (one unit per shared step × module). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ConvertedModel extends LoadedModel {
  readonly plan: TyingPlan;
  readonly lora: DepthwiseLora;
  /** Per SVD-initialised adapter, the share of its residual's energy the rank keeps. */
  readonly loraEnergy: readonly TruncationEnergy[];
  /** Unique parameters of the shared model plus its adapters. */
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
  const mosSettings = options.loraKind === 'mos' ? options.mos : undefined;
  if (options.loraKind === 'mos' && !mosSettings) throw new RangeError('loraKind mos needs its MoS settings');
  const loraArrays = initDepthwiseLora({
    onEnergy: (e) => loraEnergy.push(e),
    plan: spec.plan,
    sourceConfig: model.decoder.config,
    source,
    shared: spec.arrays,
    // MoS: only the per-loop norms come from here; its factors are gathered from the pools
    ranks: mosSettings ? { attention: 0, mlp: 0 } : options.ranks,
    init: options.loraInit,
    norms: options.norms,
    seed: options.seed ?? 0,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const steps = sharedSteps(spec.plan).map((s) => [s.unique, s.loop] as const);
  const mosInit =
    mosSettings && initMosLora({ config: model.decoder.config, steps, ranks: options.ranks, settings: mosSettings });
  const mos =
    mosInit && MosLora.fromArrays(new Map([...mosInit.arrays, ...loraArrays]), mosInit.section, options.loraScale ?? 1);
  const lora = mos ? mos.materialise() : DepthwiseLora.fromArrays(loraArrays, options.loraScale ?? 1);
  const decoder = Decoder.fromArrays(spec.config, spec.arrays, { adapter: lora });
  const recur: RecurSection = {
    strategy: options.strategy,
    loops: options.loops,
    blockSize: spec.plan.blockSize,
    init: options.init,
    loraInit: mos ? 'zero' : options.loraInit,
    ...(mosInit && { loraKind: 'mos' as const, mos: mosInit.section }),
    ranks: options.ranks,
    norms: options.norms,
    loraScale: options.loraScale ?? 1,
    layerOrder: spec.config.layerOrder ?? [],
    source: { path: model.source.path, numLayers: model.config.numLayers, parameters: model.decoder.parameterCount },
  };
  return {
    ...model,
    config: { ...model.config, numLayers: spec.plan.uniqueLayers },
    decoder,
    plan: spec.plan,
    lora,
    ...(mos && { mos }),
    loraEnergy,
    parameters: {
      shared: decoder.parameterCount,
      lora: (mos ?? lora).parameterCount,
      source: model.decoder.parameterCount,
    },
    recur,
  };
}

/** The decoder's weights as plain arrays by checkpoint key. */
export async function weightArrays(decoder: Decoder): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [key, tensor] of decoder.weights) out.set(key, (await tensor.data()) as Float32Array);
  return out;
}
