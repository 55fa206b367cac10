import { ropeInverseFrequencies, type FusedRuntime, type tf } from '@recur/tensor';
import { ConfigError, type DecoderConfig } from '../config.js';
import { decoderWeightSpecs, layerKey } from '../weights.js';

/** One stored layer's weights as the fast path reads them: matrices by heap offset, small vectors copied out. */
export interface FastLayerWeights {
  readonly q: number;
  readonly k: number;
  readonly v: number;
  readonly o: number;
  readonly gate: number;
  readonly up: number;
  readonly down: number;
  readonly inputNorm: Float32Array;
  readonly postNorm: Float32Array;
  /** The same norm weights in the heap (byte offsets), for the rmsNorm kernel. */
  readonly inputNormAt: number;
  readonly postNormAt: number;
  readonly qBias?: Float32Array;
  readonly kBias?: Float32Array;
  readonly vBias?: Float32Array;
}

export interface FastWeights {
  /** Embedding table [V, d] (byte offset). */
  readonly embed: number;
  /** LM head [V, d]: the embedding when tied. */
  readonly head: number;
  readonly finalNorm: Float32Array;
  /** Per stored layer (a recursive model's shared layers once each). */
  readonly layers: readonly FastLayerWeights[];
  readonly invFreq: Float32Array;
}

/**
 * Where each weight of a Decoder lives in the wasm heap. The [out, in] matrices are used in place
 * (tfjs's row-major HF layout is the one the GEMV wants: each output row contiguous); norms and
 * biases (d floats each) are read once into JS arrays for the per-row steps.
 */
export function fastWeights(
  config: DecoderConfig,
  weights: ReadonlyMap<string, tf.Tensor>,
  runtime: FusedRuntime,
): FastWeights {
  for (const spec of decoderWeightSpecs(config)) {
    const t = weights.get(spec.name);
    if (!t) throw new ConfigError(spec.name, `missing weight ${spec.name}`);
    if (t.dtype !== 'float32' || t.shape.join('x') !== spec.shape.join('x')) {
      throw new ConfigError(
        spec.name,
        `weight ${spec.name} is ${t.dtype} [${t.shape}]; the fast path needs float32 [${spec.shape}]`,
      );
    }
  }
  const offset = (key: string): number => runtime.offsetOf(weights.get(key)!);
  const vector = (key: string): Float32Array => weights.get(key)!.dataSync() as Float32Array;
  const optional = (key: string): Float32Array | undefined => (weights.has(key) ? vector(key) : undefined);
  const layers = Array.from({ length: config.numLayers }, (_, i): FastLayerWeights => {
    const key = (m: string): string => layerKey(i, m);
    const qBias = optional(key('self_attn.q_proj.bias'));
    const kBias = optional(key('self_attn.k_proj.bias'));
    const vBias = optional(key('self_attn.v_proj.bias'));
    return {
      q: offset(key('self_attn.q_proj.weight')),
      k: offset(key('self_attn.k_proj.weight')),
      v: offset(key('self_attn.v_proj.weight')),
      o: offset(key('self_attn.o_proj.weight')),
      gate: offset(key('mlp.gate_proj.weight')),
      up: offset(key('mlp.up_proj.weight')),
      down: offset(key('mlp.down_proj.weight')),
      inputNorm: vector(key('input_layernorm.weight')),
      postNorm: vector(key('post_attention_layernorm.weight')),
      inputNormAt: offset(key('input_layernorm.weight')),
      postNormAt: offset(key('post_attention_layernorm.weight')),
      ...(qBias ? { qBias } : {}),
      ...(kBias ? { kBias } : {}),
      ...(vBias ? { vBias } : {}),
    };
  });
  return {
    embed: offset('model.embed_tokens.weight'),
    head: offset(config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'),
    finalNorm: vector('model.norm.weight'),
    layers,
    invFreq: ropeInverseFrequencies({ headDim: config.headDim, theta: config.ropeTheta, scaling: config.ropeScaling }),
  };
}
