import { Decoder, executionSteps, recursiveFromPretrained, type RecursiveOptions, type TyingPlan } from '@recur/graph';
import {
  DepthwiseLora,
  GeneratedLora,
  generatedKind,
  initDepthwiseLora,
  initGeneratedLora,
  initMosLora,
  loraKindFields,
  loraKindSpec,
  MosLora,
  sharedSteps,
  type HyperSection,
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
  /** How the per-loop LoRA is stored: 'depthwise' (default), 'mos' (factors gathered from shared shard pools), or generated ('hyper', 'scaled'; see @recur/lora kinds.ts). */
  readonly loraKind?: LoraKind;
  /** loraKind 'mos': pool size, shards per vector, private fraction, strategy switches, seed. */
  readonly mos?: MosSettings;
  /** loraKind 'hyper': the width of its loop and position embeddings. */
  readonly hyper?: HyperSection;
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
  const kind = loraKindSpec(options);
  const mosSettings = kind.kind === 'mos' ? options.mos : undefined;
  if (kind.kind === 'mos' && !mosSettings) throw new RangeError('loraKind mos needs its MoS settings');
  const scale = options.loraScale ?? 1;
  const generated = generatedKind(kind)
    ? GeneratedLora.fromArrays(
        kind,
        initGeneratedLora({ spec: kind, ...loraInitInputs(model, spec, source, options) }),
        scale,
      )
    : undefined;
  // MoS: only the per-loop norms come from here; its factors are gathered from the pools
  const loraArrays = generated
    ? undefined
    : initDepthwiseLora({
        ...loraInitInputs(model, spec, source, options),
        ...(mosSettings && { ranks: { attention: 0, mlp: 0 } }),
        onEnergy: (e) => loraEnergy.push(e),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
  const steps = sharedSteps(spec.plan).map((s) => [s.unique, s.loop] as const);
  const mosInit =
    mosSettings && initMosLora({ config: model.decoder.config, steps, ranks: options.ranks, settings: mosSettings });
  const mos =
    mosInit && loraArrays && MosLora.fromArrays(new Map([...mosInit.arrays, ...loraArrays]), mosInit.section, scale);
  // MoS and generated kinds run as dense per-loop LoRA (the fast path, export); their stored form trains and saves
  const lora = generated
    ? generated.materialise(executionSteps(spec.config))
    : mos
      ? mos.materialise()
      : DepthwiseLora.fromArrays(loraArrays!, scale);
  const decoder = Decoder.fromArrays(spec.config, spec.arrays, { adapter: lora });
  const recur: RecurSection = {
    strategy: options.strategy,
    loops: options.loops,
    blockSize: spec.plan.blockSize,
    init: options.init,
    // MoS always starts at the tied model (zero B pool), whatever --lora-init says; hyper fits its generators to the SVD factors under svd
    loraInit: mos ? 'zero' : options.loraInit,
    ...(generated && loraKindFields(generated.spec)),
    ...(mosInit && { loraKind: 'mos' as const, mos: mosInit.section }),
    ranks: options.ranks,
    norms: options.norms,
    loraScale: scale,
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
    ...(generated && { generatedLora: generated }),
    loraEnergy,
    parameters: {
      shared: decoder.parameterCount,
      lora: (generated ?? mos ?? lora).parameterCount,
      source: model.decoder.parameterCount,
    },
    recur,
  };
}

/** What every LoRA kind's initialisation reads: the tying plan, source and shared weights, ranks, init, seed. */
function loraInitInputs(
  model: LoadedModel,
  spec: ReturnType<typeof recursiveFromPretrained>,
  source: ReadonlyMap<string, Float32Array>,
  options: ConvertOptions,
) {
  return {
    plan: spec.plan,
    sourceConfig: model.decoder.config,
    source,
    shared: spec.arrays,
    ranks: options.ranks,
    init: options.loraInit,
    norms: options.norms,
    seed: options.seed ?? 0,
  };
}

/** The decoder's weights as plain arrays by checkpoint key. */
export async function weightArrays(decoder: Decoder): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [key, tensor] of decoder.weights) out.set(key, (await tensor.data()) as Float32Array);
  return out;
}
