import type { PackedQuantRows } from '../gguf/quant/pack.js';
import type { ModelConfig } from '../config/model-config.js';
import type { TensorInfo } from '../tensor-info.js';
import type { TextTokenizer } from '../tokenizer/text-tokenizer.js';

/**
 * An opened model checkpoint: its config, tokenizer and tensors under Hugging Face Llama keys
 * (`model.layers.3.self_attn.q_proj.weight`), whatever the file format. Tensors are read on demand.
 */
export interface Checkpoint {
  readonly format: 'gguf' | 'safetensors';
  /** What was opened (a folder, a file), for messages. */
  readonly path: string;
  readonly config: ModelConfig;
  /**
   * Where `config.maxPositionEmbeddings` came from: `max_position_embeddings in
   * config.json`, or `default: config.json declares no max_position_embeddings`.
   */
  readonly contextSource: string;
  /** null when the checkpoint carries no tokenizer (a folder without tokenizer.json). */
  readonly tokenizer: TextTokenizer | null;
  readonly tensors: readonly TensorInfo[];
  has(name: string): boolean;
  /** Float32 values in HF layout; throws CheckpointError 'missing-tensor' for an unknown name. */
  read(name: string): Promise<Float32Array>;
  /**
   * A Q8_0/Q4_0 matrix kept quantized, in HF row order (GGUF checkpoints); undefined for any other
   * tensor or format. Scales are checked finite.
   */
  readQuantized?(name: string): Promise<PackedQuantRows | undefined>;
  /** Releases the underlying files. */
  close(): Promise<void>;
}
