import { linear, rmsNorm, ropeInverseFrequencies, tf } from '@recur/tensor';
import { ConfigError, executionSteps, validateDecoderConfig, type DecoderConfig } from './config.js';
import type { LayerAdapter } from './adapter.js';
import type { AttentionCache } from './attentionCache.js';
import type { DerivedWeights } from './derivedWeights.js';
import { DepthKvCache, type DepthKvMode } from './depth/depthKvCache.js';
import { echoSources, echoSourceSteps } from './echo.js';
import { loopStructure, type LoopStructure } from './depth/loopStructure.js';
import { KvCache } from './kvCache.js';
import { decoderLayer, type LayerCall, type LayerContext } from './layer.js';
import { decoderWeightSpecs, parameterCount, type DecoderWeights } from './weights.js';

export interface DecoderOptions {
  /** Plugged into every executed layer step (LoRA, per-loop norms…). */
  readonly adapter?: LayerAdapter;
  /** Weights computed at each use instead of held in the weight map (see DerivedWeights). */
  readonly derived?: DerivedWeights;
}

export interface ForwardOptions {
  /** Keys/values of earlier positions; this call appends to it. Without one, the call starts at position 0. */
  readonly cache?: KvCache;
  /** Return logits for the last row only ([1, V]) — all generation needs after a prefill. */
  readonly lastOnly?: boolean;
  /**
   * Sees the hidden state h [T, d] where each loop ends: after the last executed step of that loop
   * number (LayerCall.loop), so a plain decoder reports loop 0 once, after its last layer, and a
   * MIDDLE-* model reports loop 0 after its unique last layer. For losses on intermediate loops
   * (early exit). h is freed when forward returns: `tf.keep` it to use it afterwards.
   */
  readonly onLoopEnd?: (loop: number, h: tf.Tensor2D) => void;
}

/**
 * A Llama-family decoder over weights addressed by checkpoint keys. The decoder owns its weight
 * tensors: `dispose()` frees them.
 */
export class Decoder {
  private readonly invFreq: Float32Array;
  /** Stored layer and loop of each executed step (a layer runs more than once in a recursive model). */
  private readonly steps: readonly LayerCall[];
  /** Executed steps after which a loop ends (the last step of each loop number). */
  private readonly loopEnds: ReadonlySet<number>;
  private structure: LoopStructure | undefined;
  /** EchoAtt: step → the step whose maps it reuses. */
  private readonly echo: ReadonlyMap<number, number>;

  constructor(
    readonly config: DecoderConfig,
    readonly weights: DecoderWeights,
    private readonly options: DecoderOptions = {},
  ) {
    validateDecoderConfig(config);
    checkWeights(config, weights, options.derived?.keys);
    this.steps = executionSteps(config);
    this.loopEnds = new Set(new Map(this.steps.map((s) => [s.loop, s.step])).values());
    this.echo = echoSources(config);
    this.invFreq = ropeInverseFrequencies({
      headDim: config.headDim,
      theta: config.ropeTheta,
      scaling: config.ropeScaling,
    });
  }

  /** Builds the decoder from plain arrays (one per checkpoint key), e.g. straight from a checkpoint reader. */
  static fromArrays(
    config: DecoderConfig,
    arrays: ReadonlyMap<string, Float32Array>,
    options: DecoderOptions = {},
  ): Decoder {
    validateDecoderConfig(config);
    const specs = decoderWeightSpecs(config);
    for (const spec of specs) {
      const data = arrays.get(spec.name);
      if (!data) throw new ConfigError(spec.name, `missing weight ${spec.name}`);
      const expected = spec.shape.reduce((a, b) => a * b, 1);
      if (data.length !== expected) {
        throw new ConfigError(
          spec.name,
          `weight ${spec.name} has ${data.length} values but the config needs [${spec.shape}] = ${expected}`,
        );
      }
    }
    const weights = new Map<string, tf.Tensor>();
    for (const spec of specs) weights.set(spec.name, tf.tensor(arrays.get(spec.name)!, [...spec.shape], 'float32'));
    return new Decoder(config, weights, options);
  }

  /** Stored layer run at each step. */
  get order(): number[] {
    return this.steps.map((s) => s.unique);
  }

  get parameterCount(): number {
    return parameterCount(this.config);
  }

  newCache(): KvCache {
    return new KvCache(this.steps.length, echoSourceSteps(this.config));
  }

  /** Prologue, loops of the shared block, epilogue: what per-token depth runs (throws for SEQUENCE tying). */
  get loops(): LoopStructure {
    this.structure ??= loopStructure(this.config);
    return this.structure;
  }

  /** A cache for per-token depth (see DepthKvMode). */
  newDepthCache(mode: DepthKvMode): DepthKvCache {
    return new DepthKvCache(this.loops, mode);
  }

  /**
   * Runs the given layer steps on rows h [A, d] at absolute `positions` (any subset of a sequence,
   * ascending), attending through `cache` → [A, d]. The building block of per-token depth: callers
   * run the prologue, each loop on the tokens still active, and the epilogue. The caller owns the
   * result (no tidy here, so autodiff can see through it).
   */
  runLayers(
    h: tf.Tensor2D,
    calls: readonly LayerCall[],
    options: { readonly positions: Int32Array; readonly cache: AttentionCache },
  ): tf.Tensor2D {
    if (options.positions.length !== h.shape[0])
      throw new RangeError(`runLayers: ${options.positions.length} positions for ${h.shape[0]} rows`);
    const ctx: LayerContext = {
      config: this.config,
      weights: this.weights,
      cache: options.cache,
      positions: options.positions,
      invFreq: this.invFreq,
      ...(this.options.adapter ? { adapter: this.options.adapter } : {}),
      ...(this.options.derived ? { derived: this.options.derived } : {}),
      ...(this.echo.size > 0 ? { echo: this.echo } : {}),
    };
    let out = h;
    for (const call of calls) out = decoderLayer(out, call, ctx);
    return out;
  }

  /** ids: the T new tokens → logits [T, V] (or [1, V] with lastOnly). Advances the cache by T. */
  forward(ids: ArrayLike<number>, options: ForwardOptions = {}): tf.Tensor2D {
    const cache = options.cache ?? this.newCache();
    const start = cache.length;
    const positions = Int32Array.from({ length: ids.length }, (_, i) => start + i);
    const logits = tf.tidy(() => {
      let h = this.embed(ids); // [T, d]
      for (const call of this.steps) {
        h = this.runLayers(h, [call], { positions, cache });
        if (options.onLoopEnd && this.loopEnds.has(call.step)) options.onLoopEnd(call.loop, h);
      }
      if (options.lastOnly) h = tf.slice(h, [ids.length - 1, 0], [1, -1]); // [1, d]
      return this.head(h);
    });
    cache.advance(ids.length);
    if (!options.cache) cache.dispose();
    return logits;
  }

  dispose(): void {
    for (const t of this.weights.values()) t.dispose();
  }

  /** Token embeddings [T, d] (throws for ids outside the vocabulary). */
  embed(ids: ArrayLike<number>): tf.Tensor2D {
    const table = this.weights.get('model.embed_tokens.weight') as tf.Tensor2D;
    for (const id of Array.from(ids)) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new RangeError(`token id ${id} is outside the vocabulary (0..${this.config.vocabSize - 1})`);
      }
    }
    return tf.gather(table, tf.tensor1d(Array.from(ids), 'int32')) as tf.Tensor2D; // [T, d]
  }

  /** Final norm + LM head: [T, d] → [T, V]. Public so a loss can read out a loop state (early exit). */
  head(h: tf.Tensor2D): tf.Tensor2D {
    return this.lmHead(this.finalNorm(h));
  }

  /** The final RMSNorm alone: [T, d] → [T, d], the state the LM head reads (feature distillation compares these). */
  finalNorm(h: tf.Tensor2D): tf.Tensor2D {
    const norm = this.weights.get('model.norm.weight') as tf.Tensor1D;
    return rmsNorm(h, norm, this.config.rmsNormEps) as tf.Tensor2D;
  }

  /** The LM head alone on final-normed states: [T, d] → [T, V]. */
  lmHead(x: tf.Tensor2D): tf.Tensor2D {
    const headKey = this.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
    return linear(x, this.weights.get(headKey) as tf.Tensor2D);
  }
}

function checkWeights(config: DecoderConfig, weights: DecoderWeights, derived?: ReadonlySet<string>): void {
  for (const spec of decoderWeightSpecs(config)) {
    if (derived?.has(spec.name)) continue;
    const t = weights.get(spec.name);
    if (!t) throw new ConfigError(spec.name, `missing weight ${spec.name}`);
    if (t.shape.join('x') !== spec.shape.join('x')) {
      throw new ConfigError(
        spec.name,
        `weight ${spec.name} has shape [${t.shape}] but the config needs [${spec.shape}]`,
      );
    }
  }
}
