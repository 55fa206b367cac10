import { configSizeLimits, type Checkpoint, type ModelConfig, type TextTokenizer } from '@recur/checkpoint';
import { Decoder, decoderWeightSpecs, loopedOrder, type PackedQuant } from '@recur/graph';
import { tf } from '@recur/tensor';
import { DepthwiseLora } from '@recur/lora';
import { masaTensorPrefix } from '@recur/sharing';
import { disposeFast } from './fast.js';
import { checkMasaTensors, loadMasa, masaDerivedKeys, type MasaModel, type MasaSection } from './masa.js';
import type { RecurSection } from './recurConfig.js';

/** A runnable model: the decoder, its tokenizer and where it came from. */
export interface LoadedModel {
  readonly decoder: Decoder;
  readonly tokenizer: TextTokenizer;
  readonly config: ModelConfig;
  /** `contextSource` says where config.maxPositionEmbeddings came from (the file's field, or a default). */
  readonly source: { readonly path: string; readonly format: Checkpoint['format']; readonly contextSource?: string };
  readonly tensors: Checkpoint['tensors'];
  /** Depth-wise adapters of a converted (recursive) model. */
  readonly lora?: DepthwiseLora;
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
}

/** Frees every tensor the model holds. */
export function disposeModel(model: LoadedModel): void {
  disposeFast(model);
  model.decoder.dispose();
  model.lora?.dispose();
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
}

/** LoRA factors and per-loop norms, stored beside the shared weights. */
const adapterTensor = /\.loop\d+\.weight$/;
/** Mixture-of-Recursions router weights. */
export const routerTensorPrefix = 'mor.';

/** Reads every tensor the decoder needs from an open checkpoint and builds the model. */
export async function buildModel(checkpoint: Checkpoint, options: BuildOptions = {}): Promise<LoadedModel> {
  if (!checkpoint.tokenizer) {
    throw new Error(
      `${checkpoint.path}: no tokenizer found (expected tokenizer.json beside the weights, or one embedded in the GGUF)`,
    );
  }
  const recur = withLoops(checkpoint.path, options.recur, options.loops);
  const baseConfig = recur ? { ...checkpoint.config, layerOrder: recur.layerOrder } : checkpoint.config;
  if (recur && options.masa)
    throw new Error(`${checkpoint.path}: config.json has both a recur and a masa section; a model is one or the other`);
  if (options.masa) checkMasaTensors(checkpoint, baseConfig, options.masa);
  const derived = options.masa ? masaDerivedKeys(baseConfig, options.masa) : new Set<string>();
  const specs = [
    ...decoderWeightSpecs(baseConfig).filter((spec) => !derived.has(spec.name)),
    ...(options.masa ? checkpoint.tensors.filter((t) => t.name.startsWith(masaTensorPrefix)) : []),
    ...(recur ? checkpoint.tensors.filter((t) => adapterTensor.test(t.name)) : []),
    ...(recur?.router ? checkpoint.tensors.filter((t) => t.name.startsWith(routerTensorPrefix)) : []),
  ];
  const arrays = new Map<string, Float32Array>();
  for (const [i, spec] of specs.entries()) {
    arrays.set(spec.name, await checkpoint.read(spec.name));
    options.onProgress?.(i + 1, specs.length, spec.name);
  }
  const masa = options.masa ? loadMasa(checkpoint, arrays, options.masa) : undefined;
  const config = tieIdenticalHead(baseConfig, arrays);
  if (recur && options.adapter)
    throw new Error(
      `${checkpoint.path}: a converted model carries its own LoRA; an extra adapter applies to plain models only`,
    );
  const lora = recur ? loadLora(checkpoint, arrays, recur.loraScale) : options.adapter;
  const routerParams = recur?.router ? loadRouter(checkpoint, arrays) : undefined;
  const quantized = recur || options.nativeQuant === false ? undefined : await quantizedMatrices(checkpoint, config);
  return {
    ...(quantized?.size ? { quantized } : {}),
    decoder: Decoder.fromArrays(config, arrays, lora ? { adapter: lora } : {}),
    ...(lora ? { lora } : {}),
    ...(recur ? { recur } : {}),
    ...(routerParams ? { routerParams } : {}),
    ...(masa ? { masa } : {}),
    tokenizer: checkpoint.tokenizer,
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
    if (spec.shape.length !== 2 || (spec.name === 'model.embed_tokens.weight' && !config.tieWordEmbeddings)) continue;
    const packed = await checkpoint.readQuantized(spec.name);
    if (packed) out.set(spec.name, packed);
  }
  return out;
}

/**
 * Some converters (e.g. llama2.c → GGUF) store the LM head as a copy of the embedding. Sharing one
 * matrix when the two are bit-identical keeps the model exact and counts its parameters once.
 */
function tieIdenticalHead(config: ModelConfig, arrays: Map<string, Float32Array>): ModelConfig {
  if (config.tieWordEmbeddings) return config;
  const head = arrays.get('lm_head.weight');
  const embed = arrays.get('model.embed_tokens.weight');
  if (!head || !embed || head.length !== embed.length) return config;
  for (let i = 0; i < head.length; i++) if (!Object.is(head[i], embed[i])) return config;
  arrays.delete('lm_head.weight');
  return { ...config, tieWordEmbeddings: true };
}

function loadLora(checkpoint: Checkpoint, arrays: Map<string, Float32Array>, scale: number): DepthwiseLora {
  const factors = new Map<string, { data: Float32Array; shape: readonly number[] }>();
  for (const info of checkpoint.tensors) {
    if (adapterTensor.test(info.name)) factors.set(info.name, { data: arrays.get(info.name)!, shape: info.shape });
  }
  return DepthwiseLora.fromArrays(factors, scale);
}

function loadRouter(checkpoint: Checkpoint, arrays: Map<string, Float32Array>): Map<string, tf.Tensor> {
  const infos = checkpoint.tensors.filter((t) => t.name.startsWith(routerTensorPrefix));
  if (infos.length === 0)
    throw new Error(
      `${checkpoint.path}: config.json names a router but the weights hold no ${routerTensorPrefix}* tensors`,
    );
  return new Map(infos.map((info) => [info.name, tf.tensor(arrays.get(info.name)!, [...info.shape], 'float32')]));
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
