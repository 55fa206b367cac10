import type { ModelConfig } from '@recur/checkpoint';
import type { DepthKvMode, SharingStrategy, InitStrategy } from '@recur/graph';
import {
  isLoraKind,
  loraKinds,
  type HyperSection,
  type LoraInit,
  type LoraKind,
  type LoraRanks,
  type MosSection,
  type NormMode,
} from '@recur/lora';
import { ConfigError } from '@recur/checkpoint';
import { thresholdsProblem, type TokenChoiceForm } from '@recur/router';

/** The `recur` section of a converted model's config.json: how its layers are tied and adapted. */
export interface RecurSection {
  readonly strategy: SharingStrategy;
  readonly loops: number;
  readonly blockSize: number;
  readonly init: InitStrategy;
  readonly loraInit: LoraInit;
  readonly ranks: LoraRanks;
  readonly norms: NormMode;
  readonly loraScale: number;
  /** How the per-loop LoRA is stored (absent: 'depthwise', every factor on its own). */
  readonly loraKind?: LoraKind;
  /** loraKind 'mos': pool settings and the adapted steps in index-table order (factors in the `mos.*` tensors). */
  readonly mos?: MosSection;
  /** loraKind 'hyper': the width of its loop and position embeddings (generators in `.lora_hyper.` tensors). */
  readonly hyper?: HyperSection;
  /** Stored layer run at each step (its k-th run is loop k). */
  readonly layerOrder: readonly number[];
  /** Where the model was converted from, and its depth. */
  readonly source: { readonly path: string; readonly numLayers: number; readonly parameters: number };
  /** A Mixture-of-Recursions router trained with the model (its weights are the `mor.*` tensors). */
  readonly router?: RouterSection;
  /** Uni-X per-domain ends: a copy of the prologue and epilogue layers per domain (see domainEnds.ts). */
  readonly ends?: DomainEndsSection;
}

/**
 * Per-domain ends of a MIDDLE-CYCLE model ("Uni-X: Mitigating Modality Conflict with a Two-End-Separated
 * Architecture for Unified Multimodal Models", Hao et al. 2025, arXiv 2509.24365): every domain's copy of
 * the unshared end layers is stored as `domains.<name>.<key>`; the plain keys hold the `active` one.
 */
export interface DomainEndsSection {
  readonly domains: readonly string[];
  /** Stored layers that are per domain (the prologue's and the epilogue's). */
  readonly layers: readonly number[];
  /** The domain whose ends the plain `model.layers.*` keys hold (what a load without --domain runs). */
  readonly active: string;
}

/** How a MoR model routes tokens to depths (Bae et al. 2025, arXiv 2507.10524). */
export interface RouterSection {
  readonly kind: 'expert' | 'token';
  /** Expert-choice routers: 'linear' d → 1 or a small 'mlp'. */
  readonly architecture: 'linear' | 'mlp';
  /** Expert-choice gate scale α (the gate is α·σ(logit)). */
  readonly alpha: number;
  /** What deeper loops attend to, as trained: recursion-wise caching or recursive KV sharing. */
  readonly kvMode: DepthKvMode;
  /** Decode-time rule of expert-choice routers: continue while σ(logit) > threshold (default 0.5). */
  readonly threshold?: number;
  /**
   * Expert-choice: per-recursion σ thresholds calibrated on held-out text so the causal keep fraction
   * matches the trained capacity (N − r)/N; index r is recursion r's, [0] = 0 (everyone runs loop 0).
   * Precedence at decode: `--exit router:T` > thresholds[r] > threshold > 0.5.
   */
  readonly thresholds?: readonly number[];
  /** Token-choice: 'paper' (h₀ + g·f^r(h₀)) or 'gated-every-loop'; models saved without it ran the latter. */
  readonly tokenForm?: TokenChoiceForm;
  /** Token-choice balancing: an auxiliary 'loss', or 'loss-free' (a bias tensor, mor.token_router.balance_bias). */
  readonly balance?: 'loss' | 'loss-free';
}

/** A token-choice router section as saved before tokenForm existed keeps its old form on load. */
export function withRouterDefaults(recur: RecurSection): RecurSection {
  const router = recur.router;
  if (router?.kind !== 'token' || router.tokenForm !== undefined) return recur;
  return { ...recur, router: { ...router, tokenForm: 'gated-every-loop' } };
}

/** Refuses a saved router section a model cannot run as stored (ConfigError naming `file` and the field). */
export function checkRouterSection(recur: RecurSection, file: string): void {
  const router = recur.router;
  if (
    router?.threshold !== undefined &&
    !(Number.isFinite(router.threshold) && router.threshold > 0 && router.threshold < 1)
  ) {
    throw new ConfigError(
      file,
      'recur.router.threshold',
      `must be a number in (0, 1), got ${JSON.stringify(router.threshold)}`,
    );
  }
  if (router?.thresholds === undefined) return;
  if (router.kind !== 'expert')
    throw new ConfigError(file, 'recur.router.thresholds', 'applies to expert-choice routers only');
  const problem = thresholdsProblem(router.thresholds, recur.loops);
  if (problem) throw new ConfigError(file, 'recur.router.thresholds', problem);
}

/** A Hugging Face Llama config.json for a model Recur holds (unknown to other tools: the `recur` section). */
export function hfConfigJson(config: ModelConfig, recur?: RecurSection): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: ropeScalingJson(config.ropeScaling),
    hidden_act: 'silu',
    tie_word_embeddings: config.tieWordEmbeddings,
    attention_bias: config.attentionBias ?? false,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    torch_dtype: 'float32',
    ...(recur ? { recur } : {}),
  };
}

function ropeScalingJson(scaling: ModelConfig['ropeScaling']): Record<string, unknown> | null {
  if (!scaling) return null;
  if (scaling.type === 'linear') return { rope_type: 'linear', factor: scaling.factor };
  return {
    rope_type: 'llama3',
    factor: scaling.factor,
    low_freq_factor: scaling.lowFreqFactor,
    high_freq_factor: scaling.highFreqFactor,
    original_max_position_embeddings: scaling.originalMaxPositionEmbeddings,
  };
}

/**
 * Checks recur.loraKind: a name from @recur/lora's registry (absent = depthwise), with 'hyper' needing
 * its `hyper: { hyperDim }` section (a positive integer). Throws a ConfigError naming the field.
 */
export function checkLoraKindSection(recur: RecurSection, file: string): void {
  const kind: unknown = recur.loraKind;
  if (kind === undefined) return;
  if (typeof kind !== 'string' || !isLoraKind(kind))
    throw new ConfigError(
      file,
      'recur.loraKind',
      `must be one of ${Object.keys(loraKinds).join(', ')} (settings in their own section), got ${JSON.stringify(kind)}`,
    );
  const width = recur.hyper?.hyperDim;
  if (kind === 'hyper' && !(Number.isInteger(width) && width! > 0))
    throw new ConfigError(file, 'recur.hyper.hyperDim', `must be a positive integer, got ${JSON.stringify(width)}`);
}
