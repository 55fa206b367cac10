import { ConfigError } from '../errors.js';
import type { GgufWriteDtype } from '../gguf/encode.js';
import type { GgufMetadataEntry } from '../gguf/types.js';
import type { ModelConfig } from './model-config.js';

/** llama.cpp's `llama_ftype` for a file whose matrices are all of one type (the K-quants as their _S mixes). */
const llamaFileTypes: Record<GgufWriteDtype, number> = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q8_0: 7,
  Q4_K: 14,
  Q5_K: 16,
  Q6_K: 18,
};

/**
 * The `general.*` and `llama.*` metadata llama.cpp reads for a Llama model (the inverse of
 * `configFromGguf`). Qwen2-style q/k/v biases and Llama 3.1 RoPE scaling have no place in a
 * `llama` GGUF here, so they are refused rather than silently dropped.
 */
export function llamaGgufMetadata(config: ModelConfig, name: string, fileType: GgufWriteDtype): GgufMetadataEntry[] {
  if (config.attentionBias)
    throw new ConfigError(name, 'attentionBias', 'q/k/v biases cannot be written to a llama GGUF');
  if (config.ropeScaling?.type === 'llama3')
    throw new ConfigError(name, 'ropeScaling', 'llama3 RoPE scaling cannot be written to a GGUF yet');
  const u32 = (key: string, value: number): GgufMetadataEntry => ({ key, type: 'uint32', value });
  const f32 = (key: string, value: number): GgufMetadataEntry => ({ key, type: 'float32', value });
  const entries: GgufMetadataEntry[] = [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'general.name', type: 'string', value: name },
    u32('general.file_type', llamaFileTypes[fileType]),
    u32('llama.context_length', config.maxPositionEmbeddings),
    u32('llama.embedding_length', config.hiddenSize),
    u32('llama.feed_forward_length', config.intermediateSize),
    u32('llama.block_count', config.numLayers),
    u32('llama.attention.head_count', config.numHeads),
    u32('llama.attention.head_count_kv', config.numKvHeads),
    u32('llama.attention.key_length', config.headDim),
    u32('llama.attention.value_length', config.headDim),
    u32('llama.rope.dimension_count', config.headDim),
    u32('llama.vocab_size', config.vocabSize),
    f32('llama.attention.layer_norm_rms_epsilon', config.rmsNormEps),
    f32('llama.rope.freq_base', config.ropeTheta),
  ];
  if (config.ropeScaling?.type === 'linear') {
    entries.push(
      { key: 'llama.rope.scaling.type', type: 'string', value: 'linear' },
      f32('llama.rope.scaling.factor', config.ropeScaling.factor),
    );
  }
  return entries;
}
