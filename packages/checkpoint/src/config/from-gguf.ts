import { ConfigError } from '../errors.js';
import type { GgufMetadata } from '../gguf/reader.js';
import { defaultContextLength } from './context-source.js';
import { Fields } from './fields.js';
import { configSizeLimits as limit, type ModelConfig, type RopeScaling } from './model-config.js';

/**
 * Reads the model shape from GGUF metadata (`general.architecture` = llama, keys `llama.*`).
 * The file has no tie flag: embeddings are tied exactly when there is no `output.weight` tensor.
 */
export function configFromGguf(metadata: GgufMetadata, file: string, tensorNames: Iterable<string>): ModelConfig {
  const f = new Fields(file, (key) => metadata.get(key));
  const arch = f.string('general.architecture');
  if (arch !== 'llama') f.fail('general.architecture', 'must be "llama" (the only GGUF architecture supported)');
  const hiddenSize = f.positiveInt('llama.embedding_length', undefined, limit.hiddenSize);
  const numHeads = f.positiveInt('llama.attention.head_count', undefined, limit.numHeads);
  const numKvHeads = f.positiveInt('llama.attention.head_count_kv', numHeads, limit.numHeads);
  if (numHeads % numKvHeads !== 0)
    f.fail('llama.attention.head_count_kv', `must divide llama.attention.head_count (${numHeads})`);
  if (!f.has('llama.attention.key_length') && hiddenSize % numHeads !== 0) {
    f.fail('llama.attention.head_count', `must divide llama.embedding_length (${hiddenSize})`);
  }
  const headDim = f.positiveInt('llama.attention.key_length', hiddenSize / numHeads, limit.headDim);
  if (headDim % 2 !== 0) f.fail('llama.attention.key_length', 'must be even (RoPE rotates pairs)');
  if (f.positiveInt('llama.attention.value_length', headDim) !== headDim)
    f.fail('llama.attention.value_length', `must equal the key length ${headDim}`);
  if (f.positiveInt('llama.rope.dimension_count', headDim) !== headDim)
    f.fail('llama.rope.dimension_count', `must equal the head dimension ${headDim} (partial RoPE is not supported)`);
  const names = new Set(tensorNames);
  if (names.has('rope_freqs.weight')) {
    // Llama 3.1-style scaling is baked into this tensor instead of metadata; ignoring it would be silently wrong.
    throw new ConfigError(
      file,
      'rope_freqs.weight',
      'is present: per-dimension RoPE frequency factors are not supported',
    );
  }
  return {
    architecture: 'llama',
    vocabSize: vocabSize(f, metadata),
    hiddenSize,
    intermediateSize: f.positiveInt('llama.feed_forward_length', undefined, limit.intermediateSize),
    numLayers: f.positiveInt('llama.block_count', undefined, limit.numLayers),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: f.positiveInt('llama.context_length', defaultContextLength, limit.maxPositionEmbeddings),
    rmsNormEps: shortestFloat32(f.positiveNumber('llama.attention.layer_norm_rms_epsilon')),
    ropeTheta: shortestFloat32(f.positiveNumber('llama.rope.freq_base', 10000)),
    ropeScaling: ropeScaling(f),
    tieWordEmbeddings: !names.has('output.weight'),
    attentionBias: false,
    bosTokenId: f.tokenId('tokenizer.ggml.bos_token_id'),
    eosTokenId: f.tokenId('tokenizer.ggml.eos_token_id'),
  };
}

function vocabSize(f: Fields, metadata: GgufMetadata): number {
  const tokens = metadata.get('tokenizer.ggml.tokens');
  if (Array.isArray(tokens) && tokens.length > 0) return tokens.length;
  if (f.has('llama.vocab_size')) return f.positiveInt('llama.vocab_size', undefined, limit.vocabSize);
  throw new ConfigError(f.file, 'tokenizer.ggml.tokens', 'must list the vocabulary (or llama.vocab_size must be set)');
}

function ropeScaling(f: Fields): RopeScaling {
  const type = f.string('llama.rope.scaling.type', 'none');
  if (type === 'none') return null;
  if (type === 'linear') return { type: 'linear', factor: f.positiveNumber('llama.rope.scaling.factor') };
  return f.fail('llama.rope.scaling.type', 'must be "none" or "linear"');
}

/**
 * GGUF stores these as float32, so 1e-5 reads back as 9.99999974e-6; report the shortest decimal
 * that rounds to the same float32, which is what the converter was given.
 */
export function shortestFloat32(value: number): number {
  const single = Math.fround(value);
  if (single !== value) return value;
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === single) return candidate;
  }
  return value;
}
