import { ConfigError } from '../errors.js';
import { defaultContextLength } from './context-source.js';
import { Fields } from './fields.js';
import { configSizeLimits as limit, type ModelConfig, type RopeScaling } from './model-config.js';

/** model_type values we run, and the `architectures` names that imply them. */
const modelTypes: Readonly<Record<string, string>> = {
  llama: 'llama',
  mistral: 'mistral',
  qwen2: 'qwen2',
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
};

/**
 * Reads a Hugging Face config.json of the Llama family (llama — SmolLM and TinyLlama included —
 * mistral, qwen2). Defaults follow transformers' LlamaConfig; unknown keys are ignored.
 */
export function configFromHf(json: unknown, file: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ConfigError(file, '(root)', 'must be a JSON object');
  const obj = json as Record<string, unknown>;
  const f = new Fields(file, (key) => (Object.hasOwn(obj, key) ? obj[key] : undefined));
  const architecture = hfArchitecture(f, obj);
  const hiddenSize = f.positiveInt('hidden_size', undefined, limit.hiddenSize);
  const numHeads = f.positiveInt('num_attention_heads', undefined, limit.numHeads);
  // absent = plain multi-head attention
  const numKvHeads = f.positiveInt('num_key_value_heads', numHeads, limit.numHeads);
  if (numHeads % numKvHeads !== 0) f.fail('num_key_value_heads', `must divide num_attention_heads (${numHeads})`);
  if (!f.has('head_dim') && hiddenSize % numHeads !== 0)
    f.fail('num_attention_heads', `must divide hidden_size (${hiddenSize}) when head_dim is not given`);
  const headDim = f.positiveInt('head_dim', hiddenSize / numHeads, limit.headDim);
  if (headDim % 2 !== 0) f.fail('head_dim', 'must be even (RoPE rotates pairs)');
  if (f.string('hidden_act', 'silu') !== 'silu') f.fail('hidden_act', 'must be "silu" (the Llama MLP)');
  if (f.boolean('mlp_bias', false)) f.fail('mlp_bias', 'must be false (MLP biases are not supported)');
  const rope = ropeFields(f, obj);
  return {
    architecture,
    vocabSize: f.positiveInt('vocab_size', undefined, limit.vocabSize),
    hiddenSize,
    intermediateSize: f.positiveInt('intermediate_size', undefined, limit.intermediateSize),
    numLayers: f.positiveInt('num_hidden_layers', undefined, limit.numLayers),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: f.positiveInt('max_position_embeddings', defaultContextLength, limit.maxPositionEmbeddings),
    rmsNormEps: f.positiveNumber('rms_norm_eps', 1e-6),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    tieWordEmbeddings: f.boolean('tie_word_embeddings', false),
    attentionBias: architecture === 'qwen2' || f.boolean('attention_bias', false), // Qwen2 always has q/k/v biases
    bosTokenId: f.tokenId('bos_token_id'),
    eosTokenId: f.tokenId('eos_token_id'),
  };
}

function hfArchitecture(f: Fields, obj: Record<string, unknown>): string {
  const modelType = obj.model_type;
  if (typeof modelType === 'string') {
    const known = Object.hasOwn(modelTypes, modelType) ? modelTypes[modelType] : undefined;
    return known ?? f.fail('model_type', 'must be one of llama, mistral, qwen2 (the Llama family)');
  }
  const archs = obj.architectures;
  const first = Array.isArray(archs) ? archs[0] : undefined;
  if (typeof first === 'string' && Object.hasOwn(modelTypes, first)) return modelTypes[first]!;
  return f.fail(
    'model_type',
    'must be llama, mistral or qwen2 (or architectures must name LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM)',
  );
}

/** rope_theta and rope_scaling; newer transformers nest both in `rope_parameters`. */
function ropeFields(f: Fields, obj: Record<string, unknown>): { theta: number; scaling: RopeScaling } {
  const params = obj.rope_parameters;
  const nested =
    typeof params === 'object' && params !== null && !Array.isArray(params)
      ? (params as Record<string, unknown>)
      : undefined;
  const theta =
    nested && 'rope_theta' in nested
      ? new Fields(f.file, (k) => nested[k], 'rope_parameters.').positiveNumber('rope_theta')
      : f.positiveNumber('rope_theta', 10000);
  const raw = obj.rope_scaling ?? nested;
  if (raw === undefined || raw === null) return { theta, scaling: null };
  if (typeof raw !== 'object' || Array.isArray(raw)) f.fail('rope_scaling', 'must be an object or null');
  const r = raw as Record<string, unknown>;
  const s = new Fields(f.file, (k) => (Object.hasOwn(r, k) ? r[k] : undefined), 'rope_scaling.');
  const type = r.rope_type ?? r.type ?? 'default';
  if (type === 'default') return { theta, scaling: null };
  if (type === 'linear') return { theta, scaling: { type: 'linear', factor: s.positiveNumber('factor') } };
  if (type === 'llama3') {
    return {
      theta,
      scaling: {
        type: 'llama3',
        factor: s.positiveNumber('factor'),
        lowFreqFactor: s.positiveNumber('low_freq_factor'),
        highFreqFactor: s.positiveNumber('high_freq_factor'),
        originalMaxPositionEmbeddings: s.positiveInt(
          'original_max_position_embeddings',
          undefined,
          limit.maxPositionEmbeddings,
        ),
      },
    };
  }
  return f.fail('rope_scaling', 'must have rope_type "default", "linear" or "llama3"');
}
