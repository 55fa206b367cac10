import { configSizeLimits, type Checkpoint, type ModelConfig, type TextTokenizer } from '@recur/checkpoint';
import { Decoder, decoderWeightSpecs, loopedOrder, type PackedQuant } from '@recur/graph';
import { tf } from '@recur/tensor';
import {
  DepthwiseLora,
  GeneratedLora,
  generatedKind,
  isGeneratedLoraKey,
  loraKindSpec,
  type CompositionMethod,
  type DvptModules,
  type GatedFusion,
  type MosLora,
} from '@recur/lora';
import { masaTensorPrefix } from '@recur/sharing';
import { activateDomain, DomainError, type DomainState } from './domainEnds.js';
import { disposeFast } from './fast.js';
import { checkedDepthwise, materialised } from './generatedLoad.js';
import { checkMasaTensors, loadMasa, masaDerivedKeys, type MasaModel, type MasaSection } from './masa.js';
import { loadMos, mosSectionOf } from './mos.js';
import type { RecurSection } from './recurConfig.js';
import type { EchoSection } from './echo/withEchoAttention.js';
import { embedKey, headKey, sameBits } from './tiedHead.js';

/** A runnable model: the decoder, its tokenizer and where it came from. */
export interface LoadedModel {
  readonly decoder: Decoder;
  readonly tokenizer: TextTokenizer;
  readonly config: ModelConfig;
  /** `contextSource` says where config.maxPositionEmbeddings came from (the file's field, or a default). */
  readonly source: { readonly path: string; readonly format: Checkpoint['format']; readonly contextSource?: string };
  readonly tensors: Checkpoint['tensors'];
  /** Depth-wise adapters of a converted (recursive) model (a MoS model's, materialised from its pools at load). */
  readonly lora?: DepthwiseLora;
  /** A MoS model's shard pools and index tables (what it stores and trains); `lora` holds their factors. */
  readonly mos?: MosLora;
  /**
   * A `hyper` or `scaled` LoRA (recur.loraKind) as stored: what trains and saves. `lora` then holds its
   * materialised per-loop factors, which every executor runs.
   */
  readonly generatedLora?: GeneratedLora;
  /** How a converted model's layers are tied (config.json's `recur` section). */
  readonly recur?: RecurSection;
  /** A Mixture-of-Recursions router's weights (`mor.*` keys), when `recur.router` is set. Owned by the model. */
  readonly routerParams?: ReadonlyMap<string, tf.Tensor>;
  /** MASA atoms and coefficients (config.json's `masa` section); the decoder holds their W_l materialised. */
  readonly masa?: MasaModel;
  /**
   * The file's Q8_0/Q4_0 matrices kept quantized (packed, by HF key) for the fast path, which runs
   * them natively; handed over (and this map emptied) when the fast decoder is built.
   */
  readonly quantized?: Map<string, PackedQuant>;
  /** DVPT modules run after every step (`withDvptModules`); the tfjs decoder only. Owned by the model. */
  readonly dvpt?: DvptModules;
  /**
   * A composition of adapters loaded onto the model (`--composition DIR`). ScaLearn is folded into
   * `lora`; gated fusion is `fusion`, plugged into the decoder and owned by the model — it depends on
   * the input, so the fast path and exports refuse it.
   */
  readonly composition?: {
    readonly dir: string;
    readonly method: CompositionMethod;
    readonly fusion?: GatedFusion;
  };
  /** Uni-X per-domain ends (`recur.ends`): the domain whose ends the decoder runs, and every domain's ends. */
  readonly domain?: DomainState;
}

/** Frees every tensor the model holds. */
export function disposeModel(model: LoadedModel): void {
  disposeFast(model);
  model.decoder.dispose();
  model.lora?.dispose();
  model.dvpt?.dispose();
  model.mos?.dispose();
  model.composition?.fusion?.dispose();
  model.generatedLora?.dispose();
  model.masa?.dictionary.dispose();
  for (const t of model.routerParams?.values() ?? []) t.dispose();
}

export interface BuildOptions {
  /** Called after each tensor is read: (done, total, name). */
  readonly onProgress?: (done: number, total: number, name: string) => void;
  /** The `recur` section of a converted model's config.json. */
  readonly recur?: RecurSection;
  /** Run a converted model's block this many times instead of the loops it was converted with. */
  readonly loops?: number;
  /**
   * false: run a quantized GGUF's matrices as float32 on the fast path too (dequantized at load, as
   * the tfjs path always does). Default true.
   */
  readonly nativeQuant?: boolean;
  /** Adapters for a plain model (e.g. a PEFT adapter read by `loadModel(path, { adapter })`); owned by the model. */
  readonly adapter?: DepthwiseLora;
  /** The `masa` section of a MASA model's config.json. */
  readonly masa?: MasaSection;
  /** The `echo` section of an EchoAtt model's config.json (steps that reuse another step's attention maps). */
  readonly echo?: EchoSection;
  /** A model with per-domain ends (`recur.ends`): run this domain's (default: the saved active one). */
  readonly domain?: string;
}

/** LoRA factors and per-loop norms, stored beside the shared weights. */
const adapterTensor = /\.loop\d+\.weight$/;
/** Per-loop RMSNorm weights (`--norms per-loop`), which any LoRA kind may carry. */
/** Mixture-of-Recursions router weights. */
export const routerTensorPrefix = 'mor.';

/**
 * Reads every tensor the decoder needs from an open checkpoint and builds the model. Each tensor goes
 * into the backend as soon as it is read (the checkpoint reads it by offset from the file), so load
 * holds one copy of the weights plus the tensor in flight, not a second full set of arrays.
 */
export async function buildModel(checkpoint: Checkpoint, options: BuildOptions = {}): Promise<LoadedModel> {
  const tokenizer = checkpoint.tokenizer;
  if (!tokenizer) {
    throw new Error(
      `${checkpoint.path}: no tokenizer found (expected tokenizer.json beside the weights, or one embedded in the GGUF)`,
    );
  }
  const recur = withLoops(checkpoint.path, options.recur, options.loops);
  const looped = recur ? { ...checkpoint.config, layerOrder: recur.layerOrder } : checkpoint.config;
  const baseConfig = options.echo ? { ...looped, echoAttention: options.echo.reuse } : looped;
  if (recur && options.adapter)
    throw new Error(
      `${checkpoint.path}: a converted model carries its own LoRA; an extra adapter applies to plain models only`,
    );
  if (recur && options.masa)
    throw new Error(`${checkpoint.path}: config.json has both a recur and a masa section; a model is one or the other`);
  if (options.masa) checkMasaTensors(checkpoint, baseConfig, options.masa);
  const derived = options.masa ? masaDerivedKeys(baseConfig, options.masa) : new Set<string>();
  const extras = [
    // a MoS model's per-loop norms are read with its pools (loadMos)
    ...(recur && !mosSectionOf(recur)
      ? checkpoint.tensors.filter((t) => adapterTensor.test(t.name) || isGeneratedLoraKey(t.name))
      : []),
    ...(recur?.router ? checkpoint.tensors.filter((t) => t.name.startsWith(routerTensorPrefix)) : []),
  ];
  if (recur?.router && !extras.some((t) => t.name.startsWith(routerTensorPrefix)))
    throw new Error(
      `${checkpoint.path}: config.json names a router but the weights hold no ${routerTensorPrefix}* tensors`,
    );
  const stored = decoderWeightSpecs(baseConfig).filter((spec) => !derived.has(spec.name));
  const { tensors, tiedHead } = await readTensors(checkpoint, [...stored, ...extras], options);
  try {
    return await assemble(checkpoint, { recur, baseConfig, extras, tensors, tiedHead, tokenizer }, options);
  } catch (error) {
    for (const t of tensors.values()) t.dispose(); // a second dispose of a freed tensor is a no-op
    throw error;
  }
}

/** The model around its read tensors: MASA weights, LoRA, router, packed quantized matrices and the decoder. */
async function assemble(
  checkpoint: Checkpoint,
  parts: {
    recur: RecurSection | undefined;
    baseConfig: ModelConfig;
    extras: readonly { name: string }[];
    tensors: Map<string, tf.Tensor>;
    tiedHead: boolean;
    tokenizer: TextTokenizer;
  },
  options: BuildOptions,
): Promise<LoadedModel> {
  const { recur, baseConfig, extras, tensors, tiedHead, tokenizer } = parts;
  const masa = options.masa && (await masaWeights(checkpoint, options.masa, baseConfig, tensors));
  const config = tiedHead ? { ...baseConfig, tieWordEmbeddings: true } : baseConfig;
  const pick = (names: readonly string[]) => new Map(names.map((name) => [name, tensors.get(name)!]));
  const adapterNames = extras.filter((t) => !t.name.startsWith(routerTensorPrefix)).map((t) => t.name);
  const routerNames = extras.filter((t) => t.name.startsWith(routerTensorPrefix)).map((t) => t.name);
  const mos = recur && mosSectionOf(recur) ? await loadMos(checkpoint, baseConfig, recur) : undefined;
  let generatedLora: GeneratedLora | undefined;
  let lora: DepthwiseLora | undefined;
  try {
    const spec = recur && !mos ? loraKindSpec(recur) : undefined;
    generatedLora =
      spec && generatedKind(spec) ? new GeneratedLora(spec, pick(adapterNames), recur!.loraScale) : undefined;
    // MoS and generated kinds: each step's factors made once here, so every executor runs plain depth-wise LoRA
    lora = mos
      ? mos.materialise()
      : generatedLora
        ? await materialised(checkpoint.path, generatedLora, baseConfig)
        : recur && new DepthwiseLora(pick(checkedDepthwise(checkpoint.path, adapterNames)), recur.loraScale);
  } catch (error) {
    mos?.dispose(); // its pools are its own; buildModel frees the tensors read
    throw error;
  }
  lora ??= options.adapter;
  const routerParams = recur?.router ? pick(routerNames) : undefined;
  const weights = pick(decoderWeightSpecs(config).map((spec) => spec.name));
  const domain = await modelDomain(checkpoint, config, recur, options.domain, weights).catch((error: unknown) => {
    for (const t of new Set([...tensors.values(), ...weights.values()])) t.dispose(); // adapters and router too
    throw error;
  });
  const quantized = recur || options.nativeQuant === false ? undefined : await quantizedMatrices(checkpoint, config);
  return {
    ...(quantized?.size ? { quantized } : {}),
    decoder: new Decoder(config, weights, lora ? { adapter: lora } : {}),
    ...(lora ? { lora } : {}),
    ...(mos ? { mos } : {}),
    ...(generatedLora ? { generatedLora } : {}),
    ...(recur ? { recur } : {}),
    ...(routerParams ? { routerParams } : {}),
    ...(masa ? { masa } : {}),
    ...(domain ? { domain } : {}),
    tokenizer,
    config,
    source: { path: checkpoint.path, format: checkpoint.format, contextSource: checkpoint.contextSource },
    tensors: checkpoint.tensors,
  };
}

/** The matrices a plain GGUF stores as Q8_0/Q4_0, packed for the fast path (the embedding only as a tied head). */
async function quantizedMatrices(checkpoint: Checkpoint, config: ModelConfig): Promise<Map<string, PackedQuant>> {
  const out = new Map<string, PackedQuant>();
  if (!checkpoint.readQuantized) return out;
  for (const spec of decoderWeightSpecs(config)) {
    if (spec.shape.length !== 2 || (spec.name === embedKey && !config.tieWordEmbeddings)) continue;
    const packed = await checkpoint.readQuantized(spec.name);
    if (packed) out.set(spec.name, packed);
  }
  return out;
}

/**
 * MASA: reads the atoms and coefficients (small), keeps them as the model's dictionary, and puts each
 * materialised W_l into the backend beside the stored weights (on failure buildModel frees them all).
 */
async function masaWeights(
  checkpoint: Checkpoint,
  section: MasaSection,
  config: ModelConfig,
  tensors: Map<string, tf.Tensor>,
): Promise<MasaModel> {
  const arrays = new Map<string, Float32Array>();
  for (const info of checkpoint.tensors)
    if (info.name.startsWith(masaTensorPrefix)) arrays.set(info.name, await checkpoint.read(info.name));
  const shapes = new Map(decoderWeightSpecs(config).map((spec) => [spec.name, spec.shape]));
  const masa = loadMasa(checkpoint, arrays, section);
  for (const [key, data] of arrays) tensors.set(key, tf.tensor(data, [...shapes.get(key)!], 'float32'));
  return masa;
}

/**
 * Each tensor read and put into the backend in turn (on failure the ones made are freed). Some
 * converters (e.g. llama2.c → GGUF) store the LM head as a copy of the embedding: when the two are
 * bit-identical the head is not kept (`tiedHead`), which keeps the model exact and counts its
 * parameters once; only an untied model holds the embedding's array until its head is compared.
 */
async function readTensors(
  checkpoint: Checkpoint,
  specs: readonly { name: string; shape: readonly number[] }[],
  options: BuildOptions,
): Promise<{ tensors: Map<string, tf.Tensor>; tiedHead: boolean }> {
  const tensors = new Map<string, tf.Tensor>();
  let embed: Float32Array | undefined;
  let tiedHead = false;
  try {
    for (const [i, spec] of specs.entries()) {
      const data = await checkpoint.read(spec.name);
      if (data.length !== spec.shape.reduce((a, b) => a * b, 1))
        throw new Error(`${checkpoint.path}: tensor ${spec.name} has ${data.length} values, not [${spec.shape}]`);
      if (spec.name === embedKey && !checkpoint.config.tieWordEmbeddings) embed = data;
      if (spec.name === headKey && embed && sameBits(data, embed)) tiedHead = true;
      else tensors.set(spec.name, tf.tensor(data, [...spec.shape], 'float32'));
      if (spec.name === headKey) embed = undefined;
      options.onProgress?.(i + 1, specs.length, spec.name);
    }
  } catch (error) {
    for (const t of tensors.values()) t.dispose();
    throw error;
  }
  return { tensors, tiedHead };
}

/** A model with per-domain ends runs the chosen domain's (see domainEnds.ts); --domain elsewhere is refused. */
async function modelDomain(
  checkpoint: Checkpoint,
  config: ModelConfig,
  recur: RecurSection | undefined,
  name: string | undefined,
  weights: Map<string, tf.Tensor>,
): Promise<DomainState | undefined> {
  if (recur?.ends) return activateDomain(config, recur.ends, name, weights, (key) => checkpoint.read(key));
  if (name !== undefined)
    throw new DomainError(
      `${checkpoint.path}: --domain ${name}: the model has no per-domain ends (convert with --ends per-domain:NAMES)`,
    );
  return undefined;
}

/** The recur section with its run order rebuilt for another loop count. */
function withLoops(path: string, recur: RecurSection | undefined, loops: number | undefined): RecurSection | undefined {
  if (loops === undefined) return recur;
  if (!recur) throw new RangeError(`${path}: --loops applies to converted (recursive) models only`);
  // the bound on a config's layers holds for the loops run too
  const maxLoops = Math.floor((configSizeLimits.numLayers - 2) / recur.blockSize);
  if (loops > maxLoops)
    throw new RangeError(
      `${path}: --loops ${loops} would run ${loops * recur.blockSize} shared layers; at most ${maxLoops} loops of this ${recur.blockSize}-layer block`,
    );
  return { ...recur, loops, layerOrder: loopedOrder(recur.strategy, recur.blockSize, loops) };
}
