import type { GgufMetadataEntry, GgufWriteTensor, ModelConfig, SafetensorsWriteEntry } from '@recur/checkpoint';
import { expectedTensors, writeGguf, writeSafetensors } from '@recur/checkpoint';

/** Small deterministic PRNG (mulberry32) so every test input is reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomFloats(n: number, random: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * scale;
  return out;
}

/** A SentencePiece-style vocabulary: <unk>, <s>, </s>, 256 byte tokens, then a few pieces. */
export const tinyPieces = [
  '▁',
  'a',
  'b',
  'c',
  'h',
  'e',
  'l',
  'o',
  '▁a',
  'ab',
  '▁ab',
  'he',
  'll',
  'hell',
  'hello',
  '▁hello',
];
export const tinyTokens = [
  '<unk>',
  '<s>',
  '</s>',
  ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
  ...tinyPieces,
];

export const tinyConfig: ModelConfig = {
  architecture: 'llama',
  vocabSize: tinyTokens.length,
  hiddenSize: 8,
  intermediateSize: 12,
  numLayers: 1,
  numHeads: 2,
  numKvHeads: 1,
  headDim: 4,
  maxPositionEmbeddings: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  tieWordEmbeddings: true,
  attentionBias: false,
  bosTokenId: 1,
  eosTokenId: 2,
};

/** config.json text for tinyConfig. */
export function tinyHfConfigJson(overrides: Record<string, unknown> = {}): string {
  const c = tinyConfig;
  return JSON.stringify({
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    max_position_embeddings: c.maxPositionEmbeddings,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: true,
    hidden_act: 'silu',
    bos_token_id: 1,
    eos_token_id: 2,
    ...overrides,
  });
}

/** HF-named random weights for tinyConfig. */
export function tinyWeights(seed = 7): { name: string; shape: number[]; data: Float32Array }[] {
  const random = prng(seed);
  return [...expectedTensors(tinyConfig)].map(([name, shape]) => ({
    name,
    shape,
    data: randomFloats(
      shape.reduce((a, b) => a * b, 1),
      random,
    ),
  }));
}

export function tinySafetensors(dtype: SafetensorsWriteEntry['dtype'] = 'F32'): Uint8Array {
  return writeSafetensors(
    tinyWeights().map((w) => ({ ...w, dtype })),
    { format: 'pt' },
  );
}

/** The GGUF name of each tiny HF weight (inverse of the reader's renaming). */
const toGguf: Readonly<Record<string, string>> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'model.layers.0.input_layernorm.weight': 'blk.0.attn_norm.weight',
  'model.layers.0.self_attn.q_proj.weight': 'blk.0.attn_q.weight',
  'model.layers.0.self_attn.k_proj.weight': 'blk.0.attn_k.weight',
  'model.layers.0.self_attn.v_proj.weight': 'blk.0.attn_v.weight',
  'model.layers.0.self_attn.o_proj.weight': 'blk.0.attn_output.weight',
  'model.layers.0.post_attention_layernorm.weight': 'blk.0.ffn_norm.weight',
  'model.layers.0.mlp.gate_proj.weight': 'blk.0.ffn_gate.weight',
  'model.layers.0.mlp.up_proj.weight': 'blk.0.ffn_up.weight',
  'model.layers.0.mlp.down_proj.weight': 'blk.0.ffn_down.weight',
};

export function tinyGgufMetadata(): GgufMetadataEntry[] {
  const c = tinyConfig;
  const u32 = (key: string, value: number): GgufMetadataEntry => ({ key, type: 'uint32', value });
  const pieceScore = (i: number): number => (i < 259 ? 0 : -(i - 259));
  return [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'general.name', type: 'string', value: 'tiny' },
    u32('llama.context_length', c.maxPositionEmbeddings),
    u32('llama.embedding_length', c.hiddenSize),
    u32('llama.feed_forward_length', c.intermediateSize),
    u32('llama.block_count', c.numLayers),
    u32('llama.attention.head_count', c.numHeads),
    u32('llama.attention.head_count_kv', c.numKvHeads),
    u32('llama.rope.dimension_count', c.headDim),
    { key: 'llama.attention.layer_norm_rms_epsilon', type: 'float32', value: c.rmsNormEps },
    { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: tinyTokens },
    {
      key: 'tokenizer.ggml.scores',
      type: 'array',
      itemType: 'float32',
      value: tinyTokens.map((_, i) => pieceScore(i)),
    },
    {
      key: 'tokenizer.ggml.token_type',
      type: 'array',
      itemType: 'int32',
      value: tinyTokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1)),
    },
    u32('tokenizer.ggml.unknown_token_id', 0),
    u32('tokenizer.ggml.bos_token_id', 1),
    u32('tokenizer.ggml.eos_token_id', 2),
  ];
}

/**
 * A tiny llama GGUF. Weights are written as given (tests that compare with HF layout must
 * permute q/k themselves); embeddings in F16 to keep the file small.
 */
export function tinyGguf(options: { dtype?: GgufWriteTensor['dtype'] } = {}): Uint8Array {
  const tensors = tinyWeights().map(
    (w): GgufWriteTensor => ({
      name: toGguf[w.name]!,
      shape: w.shape,
      dtype: w.shape.length === 1 ? 'F32' : (options.dtype ?? 'F16'),
      data: w.data,
    }),
  );
  return writeGguf({ metadata: tinyGgufMetadata(), tensors });
}
