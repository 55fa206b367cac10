import type { Checkpoint, ModelConfig, TextTokenizer } from '@recur/checkpoint';
import { Decoder, decoderWeightSpecs } from '@recur/graph';

/** A runnable model: the decoder, its tokenizer and where it came from. */
export interface LoadedModel {
  readonly decoder: Decoder;
  readonly tokenizer: TextTokenizer;
  readonly config: ModelConfig;
  readonly source: { readonly path: string; readonly format: Checkpoint['format'] };
  readonly tensors: Checkpoint['tensors'];
}

export interface BuildOptions {
  /** Called after each tensor is read: (done, total, name). */
  readonly onProgress?: (done: number, total: number, name: string) => void;
}

/** Reads every tensor the decoder needs from an open checkpoint and builds the model. */
export async function buildModel(checkpoint: Checkpoint, options: BuildOptions = {}): Promise<LoadedModel> {
  if (!checkpoint.tokenizer) {
    throw new Error(`${checkpoint.path}: no tokenizer found (expected tokenizer.json beside the weights, or one embedded in the GGUF)`);
  }
  const specs = decoderWeightSpecs(checkpoint.config);
  const arrays = new Map<string, Float32Array>();
  for (const [i, spec] of specs.entries()) {
    arrays.set(spec.name, await checkpoint.read(spec.name));
    options.onProgress?.(i + 1, specs.length, spec.name);
  }
  const config = tieIdenticalHead(checkpoint.config, arrays);
  return {
    decoder: Decoder.fromArrays(config, arrays),
    tokenizer: checkpoint.tokenizer,
    config,
    source: { path: checkpoint.path, format: checkpoint.format },
    tensors: checkpoint.tensors,
  };
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
