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
  return {
    decoder: Decoder.fromArrays(checkpoint.config, arrays),
    tokenizer: checkpoint.tokenizer,
    config: checkpoint.config,
    source: { path: checkpoint.path, format: checkpoint.format },
    tensors: checkpoint.tensors,
  };
}
