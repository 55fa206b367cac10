import type { RopeScaling } from '@recur/tensor';
import { validateEcho } from './echo.js';

/**
 * Shape of a Llama-family decoder. Field names match `@recur/checkpoint`'s ModelConfig, so a
 * parsed checkpoint config can be passed straight in; extra fields are ignored.
 */
export interface DecoderConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  /** Grouped-query attention: each KV head serves numHeads / numKvHeads query heads. */
  readonly numKvHeads: number;
  /** Usually hiddenSize / numHeads, but some models (e.g. Qwen2, Gemma) set it apart. */
  readonly headDim: number;
  readonly maxPositionEmbeddings: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling;
  /** The LM head reuses the token embedding matrix (no `lm_head.weight`). */
  readonly tieWordEmbeddings: boolean;
  /** Qwen2 carries biases on q, k and v. */
  readonly attentionBias?: boolean;
  /**
   * Unique layers in execution order, for parameter-shared (recursive) models: a layer may run
   * several times. Default 0..numLayers−1, the plain decoder.
   */
  readonly layerOrder?: readonly number[];
  /** EchoAtt: executed steps that reuse an earlier step's attention maps (see echo.ts). Default none. */
  readonly echoAttention?: readonly { readonly step: number; readonly source: number }[];
}

/** The executed sequence of unique layer indices. */
export function executionOrder(config: Pick<DecoderConfig, 'numLayers' | 'layerOrder'>): readonly number[] {
  return config.layerOrder ?? Array.from({ length: config.numLayers }, (_, i) => i);
}

/**
 * Every executed step with its loop number: the k-th run of a stored layer is loop k. That is the
 * loop index of every tying strategy (cycle, sequence, middle-*), so it need not be stored.
 */
export function executionSteps(
  config: Pick<DecoderConfig, 'numLayers' | 'layerOrder'>,
): { unique: number; step: number; loop: number }[] {
  const runs = new Map<number, number>();
  return executionOrder(config).map((unique, step) => {
    const loop = runs.get(unique) ?? 0;
    runs.set(unique, loop + 1);
    return { unique, step, loop };
  });
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Throws a ConfigError naming the first field that cannot describe a working decoder. */
export function validateDecoderConfig(config: DecoderConfig): void {
  const positive = [
    'vocabSize',
    'hiddenSize',
    'intermediateSize',
    'numLayers',
    'numHeads',
    'numKvHeads',
    'headDim',
  ] as const;
  for (const field of positive) {
    const value = config[field];
    if (!Number.isInteger(value) || value <= 0) {
      throw new ConfigError(field, `config: ${field} must be a positive integer, got ${value}`);
    }
  }
  if (config.numHeads % config.numKvHeads !== 0) {
    throw new ConfigError(
      'numKvHeads',
      `config: numHeads (${config.numHeads}) must be a multiple of numKvHeads (${config.numKvHeads})`,
    );
  }
  const order = executionOrder(config);
  if (order.length === 0 || order.some((u) => !Number.isInteger(u) || u < 0 || u >= config.numLayers)) {
    throw new ConfigError(
      'layerOrder',
      `config: layerOrder must list unique layers in 0..${config.numLayers - 1}, got [${order.join(', ')}]`,
    );
  }
  validateEcho(config);
  if (config.headDim % 2 !== 0) {
    throw new ConfigError('headDim', `config: headDim must be even for RoPE, got ${config.headDim}`);
  }
}
