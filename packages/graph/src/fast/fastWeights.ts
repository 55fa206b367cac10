import { ropeInverseFrequencies, type FusedRuntime, type tf } from '@recur/tensor';
import { ConfigError, type DecoderConfig } from '../config.js';
import { echoOnlyLayers } from '../echo.js';
import { decoderWeightSpecs, layerKey } from '../weights.js';
import { placeQuant, type FastMatrix, type PackedQuant } from './quantWeights.js';

/** One stored layer's weights as the fast path reads them: matrices in the heap, small vectors copied out. */
export interface FastLayerWeights {
  /** Absent for a layer that only reuses attention maps (EchoAtt's echoOnlyLayers store no q/k). */
  readonly q?: FastMatrix;
  readonly k?: FastMatrix;
  readonly v: FastMatrix;
  readonly o: FastMatrix;
  readonly gate: FastMatrix;
  readonly up: FastMatrix;
  readonly down: FastMatrix;
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
  /** LM head [V, d]: the embedding when tied (then quantized where the embedding is). */
  readonly head: FastMatrix;
  readonly finalNorm: Float32Array;
  /** Per stored layer (a recursive model's shared layers once each). */
  readonly layers: readonly FastLayerWeights[];
  readonly invFreq: Float32Array;
  /** Heap tensors holding the packed quantized matrices: the fast decoder frees them. */
  readonly owned: readonly tf.Tensor[];
}

/**
 * Where each weight of a Decoder lives in the wasm heap. The [out, in] matrices are used in place
 * (tfjs's row-major HF layout is the one the GEMV wants: each output row contiguous), except those
 * in `quantized` (by HF key), which are copied into the heap packed and run on the quantized kernels;
 * the embedding lookup always reads the float32 table. Norms and biases (d floats each) are read once
 * into JS arrays for the per-row steps.
 */
export function fastWeights(
  config: DecoderConfig,
  weights: ReadonlyMap<string, tf.Tensor>,
  runtime: FusedRuntime,
  quantized: ReadonlyMap<string, PackedQuant> = new Map(),
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
  const owned: tf.Tensor[] = [];
  const matrix = (key: string): FastMatrix => {
    const packed = quantized.get(key);
    return packed ? placeQuant(key, packed, weights.get(key)!.shape, runtime, owned) : { w: offset(key) };
  };
  const vector = (key: string): Float32Array => weights.get(key)!.dataSync() as Float32Array;
  const optional = (key: string): Float32Array | undefined => (weights.has(key) ? vector(key) : undefined);
  try {
    return placeAll(config, { offset, matrix, vector, optional }, owned);
  } catch (error) {
    for (const t of owned) t.dispose();
    throw error;
  }
}

interface Readers {
  offset(key: string): number;
  matrix(key: string): FastMatrix;
  vector(key: string): Float32Array;
  optional(key: string): Float32Array | undefined;
}

function placeAll(
  config: DecoderConfig,
  { offset, matrix, vector, optional }: Readers,
  owned: tf.Tensor[],
): FastWeights {
  const noQk = echoOnlyLayers(config);
  const layers = Array.from({ length: config.numLayers }, (_, i): FastLayerWeights => {
    const key = (m: string): string => layerKey(i, m);
    const qk = noQk.has(i)
      ? {}
      : { q: matrix(key('self_attn.q_proj.weight')), k: matrix(key('self_attn.k_proj.weight')) };
    const qBias = optional(key('self_attn.q_proj.bias'));
    const kBias = optional(key('self_attn.k_proj.bias'));
    const vBias = optional(key('self_attn.v_proj.bias'));
    return {
      ...qk,
      v: matrix(key('self_attn.v_proj.weight')),
      o: matrix(key('self_attn.o_proj.weight')),
      gate: matrix(key('mlp.gate_proj.weight')),
      up: matrix(key('mlp.up_proj.weight')),
      down: matrix(key('mlp.down_proj.weight')),
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
    head: matrix(config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'),
    finalNorm: vector('model.norm.weight'),
    layers,
    invFreq: ropeInverseFrequencies({ headDim: config.headDim, theta: config.ropeTheta, scaling: config.ropeScaling }),
    owned,
  };
}
