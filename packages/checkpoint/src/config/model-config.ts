/** RoPE frequency scaling; null means plain RoPE. */
export type RopeScaling =
  | null
  | { readonly type: 'linear'; readonly factor: number }
  | {
      readonly type: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositionEmbeddings: number;
    };

/** A Llama-family decoder, whatever file it came from. */
export interface ModelConfig {
  /** 'llama', 'mistral' or 'qwen2' (all the same decoder; qwen2 adds q/k/v biases). */
  readonly architecture: string;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  /** Grouped-query attention: numHeads is a multiple of numKvHeads. */
  readonly numKvHeads: number;
  /** Usually hiddenSize / numHeads, but a config may set it apart. */
  readonly headDim: number;
  readonly maxPositionEmbeddings: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling;
  /** The LM head reuses the token embedding (no `lm_head.weight`). */
  readonly tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (always for qwen2). */
  readonly attentionBias: boolean;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
}

/**
 * Upper bounds on a config's sizes, far above any released model (the largest have d ≈ 16k–25k,
 * ≤ 128 layers, ≤ 256k tokens, ≤ 10M positions). A typo or a hostile file fails here with a
 * ConfigError naming the field, before anything is allocated from it.
 */
export const configSizeLimits = {
  hiddenSize: 65_536,
  intermediateSize: 262_144,
  numLayers: 1_024,
  numHeads: 1_024,
  headDim: 1_024,
  vocabSize: 4_194_304,
  maxPositionEmbeddings: 16_777_216,
} as const;
