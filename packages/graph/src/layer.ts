import { applyRope, causalAttention, linear, rmsNorm, swiGluMlp, tf } from '@recur/tensor';
import type { DecoderConfig } from './config.js';
import type { KvCache } from './kvCache.js';
import { layerKey, type DecoderWeights } from './weights.js';

/** Everything one layer call needs besides its input. */
export interface LayerContext {
  readonly config: DecoderConfig;
  readonly weights: DecoderWeights;
  readonly cache: KvCache;
  /** Absolute positions of the T input rows. */
  readonly positions: Int32Array;
  readonly invFreq: Float32Array;
}

function weight<R extends tf.Rank>(weights: DecoderWeights, name: string): tf.Tensor<R> {
  const t = weights.get(name);
  if (!t) throw new Error(`missing weight ${name}`);
  return t as tf.Tensor<R>;
}

function optionalWeight(weights: DecoderWeights, name: string): tf.Tensor1D | undefined {
  return weights.get(name) as tf.Tensor1D | undefined;
}

/** Which stored layer runs, and at which executed step (its KV-cache slot). */
export interface LayerCall {
  readonly unique: number;
  readonly step: number;
}

/** Pre-norm Llama block: h + attn(norm(h)), then + mlp(norm(h)). h: [T, d] → [T, d]. */
export function decoderLayer(h: tf.Tensor2D, call: LayerCall, ctx: LayerContext): tf.Tensor2D {
  const layer = call.unique;
  const { config, weights } = ctx;
  const w = (module: string) => weight<tf.Rank.R2>(weights, layerKey(layer, module));
  const norm1 = weight<tf.Rank.R1>(weights, layerKey(layer, 'input_layernorm.weight'));
  const attended = selfAttention(rmsNorm(h, norm1, config.rmsNormEps) as tf.Tensor2D, call, ctx);
  const h1 = tf.add(h, linear(attended, w('self_attn.o_proj.weight'))) as tf.Tensor2D;
  const norm2 = weight<tf.Rank.R1>(weights, layerKey(layer, 'post_attention_layernorm.weight'));
  const mlpIn = rmsNorm(h1, norm2, config.rmsNormEps) as tf.Tensor2D;
  const mlpOut = swiGluMlp(mlpIn, { gate: w('mlp.gate_proj.weight'), up: w('mlp.up_proj.weight'), down: w('mlp.down_proj.weight') });
  return tf.add(h1, mlpOut) as tf.Tensor2D;
}

/** x: [T, d] → [T, nHeads·headDim]; writes this step's K/V into the cache. */
function selfAttention(x: tf.Tensor2D, call: LayerCall, ctx: LayerContext): tf.Tensor2D {
  const { config, weights, positions, invFreq } = ctx;
  const layer = call.unique;
  const project = (name: string, heads: number): tf.Tensor3D => {
    const out = linear(
      x,
      weight<tf.Rank.R2>(weights, layerKey(layer, `self_attn.${name}.weight`)),
      optionalWeight(weights, layerKey(layer, `self_attn.${name}.bias`)),
    );
    return tf.reshape(out, [x.shape[0], heads, config.headDim]); // [T, heads, headDim]
  };
  const q = applyRope(project('q_proj', config.numHeads), positions, invFreq);
  const k = applyRope(project('k_proj', config.numKvHeads), positions, invFreq);
  const v = project('v_proj', config.numKvHeads);
  const past = ctx.cache.length;
  const full = ctx.cache.append(call.step, k, v); // [past + T, nKvHeads, headDim]
  return causalAttention(q, full.k, full.v, { queryOffset: past });
}
