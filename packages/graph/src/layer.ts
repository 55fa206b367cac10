import { applyRope, linear, rmsNorm, swiGluMlp, tf } from '@recur/tensor';
import type { AdaptedModule, LayerAdapter, NormName } from './adapter.js';
import type { DecoderConfig } from './config.js';
import type { AttentionCache } from './attentionCache.js';
import type { DerivedWeights } from './derivedWeights.js';
import { layerKey, type DecoderWeights } from './weights.js';

/** Everything one layer call needs besides its input. */
export interface LayerContext {
  readonly config: DecoderConfig;
  readonly weights: DecoderWeights;
  /** Where this call's keys/values go and what its queries attend to (KvCache, DepthKvCache). */
  readonly cache: AttentionCache;
  /** Absolute positions of the T input rows. */
  readonly positions: Int32Array;
  readonly invFreq: Float32Array;
  readonly adapter?: LayerAdapter;
  /** Weights computed at each use (e.g. MASA atoms while training) instead of read from `weights`. */
  readonly derived?: DerivedWeights;
  /** EchoAtt: step → the earlier step whose attention probabilities it reuses (`echoSources`). */
  readonly echo?: ReadonlyMap<number, number>;
}

/** Which stored layer runs, and at which executed step (its KV-cache slot). */
export interface LayerCall {
  readonly unique: number;
  readonly step: number;
  /** Loop (recursion) number of this step; 0 in a plain decoder. */
  readonly loop: number;
}

function weight<R extends tf.Rank>(ctx: LayerContext, name: string): tf.Tensor<R> {
  const t = ctx.weights.get(name) ?? (ctx.derived?.keys.has(name) ? ctx.derived.weight(name) : undefined);
  if (!t) throw new Error(`missing weight ${name}`);
  return t as tf.Tensor<R>;
}

/** Pre-norm Llama block: h + attn(norm(h)), then + mlp(norm(h)), then the adapter's afterStep if any. h: [T, d] → [T, d]. */
export function decoderLayer(h: tf.Tensor2D, call: LayerCall, ctx: LayerContext): tf.Tensor2D {
  const attended = selfAttention(norm(h, 'input_layernorm', call, ctx), call, ctx);
  const h1 = tf.add(h, project('self_attn.o_proj', attended, call, ctx)) as tf.Tensor2D;
  const h2 = tf.add(h1, mlp(norm(h1, 'post_attention_layernorm', call, ctx), call, ctx)) as tf.Tensor2D;
  if (!ctx.adapter?.afterStep) return h2;
  const state = ctx.cache.adapterState;
  return ctx.adapter.afterStep(call, h2, { positions: ctx.positions, ...(state && { state }) });
}

function norm(x: tf.Tensor2D, name: NormName, call: LayerCall, ctx: LayerContext): tf.Tensor2D {
  const w = ctx.adapter?.norm?.(name, call) ?? weight<tf.Rank.R1>(ctx, layerKey(call.unique, `${name}.weight`));
  return rmsNorm(x, w, ctx.config.rmsNormEps) as tf.Tensor2D;
}

/** x·Wᵀ (+ bias), then the adapter's change if one is plugged in. */
function project(module: AdaptedModule, x: tf.Tensor2D, call: LayerCall, ctx: LayerContext): tf.Tensor2D {
  const w = weight<tf.Rank.R2>(ctx, layerKey(call.unique, `${module}.weight`));
  const bias = ctx.weights.get(layerKey(call.unique, `${module}.bias`)) as tf.Tensor1D | undefined;
  const y = linear(x, w, bias);
  return ctx.adapter ? ctx.adapter.adapt(module, call, x, y) : y;
}

/** SwiGLU; the fused op unless an adapter needs to see each projection. */
function mlp(x: tf.Tensor2D, call: LayerCall, ctx: LayerContext): tf.Tensor2D {
  if (!ctx.adapter) {
    const w = (m: string) => weight<tf.Rank.R2>(ctx, layerKey(call.unique, `mlp.${m}.weight`));
    return swiGluMlp(x, { gate: w('gate_proj'), up: w('up_proj'), down: w('down_proj') });
  }
  const gate = project('mlp.gate_proj', x, call, ctx); // [T, ff]
  const up = project('mlp.up_proj', x, call, ctx); // [T, ff]
  return project('mlp.down_proj', tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D, call, ctx);
}

/** x: [T, d] → [T, nHeads·headDim]; writes this step's K/V into its cache slot. */
function selfAttention(x: tf.Tensor2D, call: LayerCall, ctx: LayerContext): tf.Tensor2D {
  const { config, positions, invFreq } = ctx;
  const heads = (module: AdaptedModule, n: number): tf.Tensor3D =>
    tf.reshape(project(module, x, call, ctx), [x.shape[0], n, config.headDim]); // [T, n, headDim]
  const source = ctx.echo?.get(call.step);
  if (source !== undefined) {
    // EchoAtt (arXiv 2409.14595): no q/k, no scores, no softmax — only this step's values.
    if (!ctx.cache.attendEcho) throw new Error(`EchoAtt: step ${call.step} needs a cache that reuses maps`);
    return ctx.cache.attendEcho(call, source, heads('self_attn.v_proj', config.numKvHeads), positions);
  }
  const q = applyRope(heads('self_attn.q_proj', config.numHeads), positions, invFreq);
  const k = applyRope(heads('self_attn.k_proj', config.numKvHeads), positions, invFreq);
  const v = heads('self_attn.v_proj', config.numKvHeads);
  return ctx.cache.attend(call, q, k, v, positions);
}
