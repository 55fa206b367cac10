import { describe, expect, it } from 'vitest';
import { ConfigError, configFromGguf, configFromHf, type GgufValue } from '@recur/checkpoint';
import { tinyConfig, tinyGgufMetadata, tinyHfConfigJson } from './tiny-model.js';

const hf = (overrides: Record<string, unknown> = {}): unknown => JSON.parse(tinyHfConfigJson(overrides));

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configFromHf', () => {
  it('reads a Llama config and ignores unknown keys', () => {
    expect(configFromHf(hf({ some_future_key: [1, 2] }), 'config.json')).toEqual({ ...tinyConfig, headDim: 4 });
  });

  it('applies defaults: kv heads = heads, head_dim = hidden / heads, untied, no bias', () => {
    const c = configFromHf(
      hf({ num_key_value_heads: undefined, tie_word_embeddings: undefined, rope_theta: undefined }),
      'c',
    );
    expect(c).toMatchObject({
      numKvHeads: 2,
      headDim: 4,
      tieWordEmbeddings: false,
      attentionBias: false,
      ropeTheta: 10000,
    });
  });

  it('accepts mistral and qwen2 (qwen2 always has q/k/v biases), and architectures without model_type', () => {
    expect(configFromHf(hf({ model_type: 'mistral' }), 'c').architecture).toBe('mistral');
    expect(configFromHf(hf({ model_type: 'qwen2' }), 'c')).toMatchObject({
      architecture: 'qwen2',
      attentionBias: true,
    });
    expect(configFromHf(hf({ model_type: undefined, architectures: ['Qwen2ForCausalLM'] }), 'c').architecture).toBe(
      'qwen2',
    );
    expect(configFromHf(hf({ attention_bias: true }), 'c').attentionBias).toBe(true);
  });

  it('reads rope scaling (linear, llama3) and an explicit head_dim', () => {
    expect(configFromHf(hf({ rope_scaling: { type: 'linear', factor: 4 } }), 'c').ropeScaling).toEqual({
      type: 'linear',
      factor: 4,
    });
    const llama3 = {
      rope_type: 'llama3',
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    };
    expect(configFromHf(hf({ rope_scaling: llama3 }), 'c').ropeScaling).toEqual({
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    });
    expect(configFromHf(hf({ head_dim: 16 }), 'c').headDim).toBe(16);
    expect(configFromHf(hf({ eos_token_id: [7, 9] }), 'c').eosTokenId).toBe(7);
  });

  it('refuses other model types, naming model_type', () => {
    const error = configError(() => configFromHf(hf({ model_type: 'gpt2' }), 'config.json'));
    expect(error.field).toBe('model_type');
    expect(error.message).toBe(
      'config.json: config field "model_type" must be one of llama, mistral, qwen2 (the Llama family), got "gpt2"',
    );
  });

  it('refuses inconsistent head counts and other impossible values', () => {
    expect(configError(() => configFromHf(hf({ num_key_value_heads: 3 }), 'c')).field).toBe('num_key_value_heads');
    expect(configError(() => configFromHf(hf({ hidden_size: 9 }), 'c')).field).toBe('num_attention_heads');
    expect(configError(() => configFromHf(hf({ head_dim: 5 }), 'c')).field).toBe('head_dim');
    expect(configError(() => configFromHf(hf({ vocab_size: -1 }), 'c')).field).toBe('vocab_size');
    expect(configError(() => configFromHf(hf({ num_hidden_layers: 1.5 }), 'c')).field).toBe('num_hidden_layers');
    expect(configError(() => configFromHf(hf({ intermediate_size: undefined }), 'c')).field).toBe('intermediate_size');
    expect(configError(() => configFromHf(hf({ hidden_act: 'gelu' }), 'c')).field).toBe('hidden_act');
    expect(configError(() => configFromHf(hf({ mlp_bias: true }), 'c')).field).toBe('mlp_bias');
    expect(configError(() => configFromHf(hf({ rope_scaling: { rope_type: 'yarn', factor: 2 } }), 'c')).field).toBe(
      'rope_scaling',
    );
    expect(configError(() => configFromHf(hf({ rope_scaling: { rope_type: 'linear' } }), 'c')).field).toBe(
      'rope_scaling.factor',
    );
    expect(configError(() => configFromHf([1, 2], 'c')).field).toBe('(root)');
  });
});

describe('config sizes have sane bounds (nothing is allocated from an absurd config)', () => {
  it.each([
    ['num_hidden_layers', 1e9, 1024],
    ['hidden_size', 1e9, 65536],
    ['intermediate_size', 2 ** 40, 262144],
    ['vocab_size', 1e8, 4194304],
    ['max_position_embeddings', 2 ** 31, 16777216],
  ])('configFromHf refuses %s = %d, naming the field and the bound', (field, value, max) => {
    const error = configError(() => configFromHf(hf({ [field]: value }), 'config.json'));
    expect(error.field).toBe(field);
    expect(error.message).toBe(
      `config.json: config field "${field}" must be a positive integer ≤ ${max}, got ${value}`,
    );
  });

  it('configFromGguf holds llama.block_count to the same bound', () => {
    const map = new Map(tinyGgufMetadata().map((e) => [e.key, e.value]));
    map.set('llama.block_count', 1e9);
    expect(configError(() => configFromGguf(map, 'm.gguf', ['token_embd.weight'])).field).toBe('llama.block_count');
  });
});

describe('configFromGguf', () => {
  const metadata = (changes: Record<string, GgufValue | undefined> = {}): Map<string, GgufValue> => {
    const map = new Map(tinyGgufMetadata().map((e) => [e.key, e.value]));
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) map.delete(key);
      else map.set(key, value);
    }
    return map;
  };
  const names = ['token_embd.weight'];

  it('reads llama.* keys; vocab from the token list; float32 epsilon reported as its shortest decimal', () => {
    expect(configFromGguf(metadata(), 'm.gguf', names)).toEqual(tinyConfig);
  });

  it('is untied exactly when output.weight exists', () => {
    expect(configFromGguf(metadata(), 'm.gguf', [...names, 'output.weight']).tieWordEmbeddings).toBe(false);
  });

  it('refuses other architectures and inconsistent heads', () => {
    expect(configError(() => configFromGguf(metadata({ 'general.architecture': 'gpt2' }), 'm', names)).field).toBe(
      'general.architecture',
    );
    expect(configError(() => configFromGguf(metadata({ 'llama.attention.head_count_kv': 3 }), 'm', names)).field).toBe(
      'llama.attention.head_count_kv',
    );
    expect(configError(() => configFromGguf(metadata({ 'llama.rope.dimension_count': 2 }), 'm', names)).field).toBe(
      'llama.rope.dimension_count',
    );
    expect(configError(() => configFromGguf(metadata({ 'llama.block_count': undefined }), 'm', names)).field).toBe(
      'llama.block_count',
    );
    expect(configError(() => configFromGguf(metadata(), 'm', [...names, 'rope_freqs.weight'])).field).toBe(
      'rope_freqs.weight',
    );
  });
});
