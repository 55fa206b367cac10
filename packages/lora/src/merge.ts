import { adaptedModules, layerKey, type AdaptedModule, type LayerCall, type NormName } from '@recur/graph';
import { tf } from '@recur/tensor';
import type { DepthwiseLora } from './depthwiseLora.js';
import { LoraError } from './init.js';
import { loopNormKey, loraKey } from './keys.js';

const normNames: readonly NormName[] = ['input_layernorm', 'post_attention_layernorm'];

/**
 * Folds depth-wise LoRA into dense weights: in an unrolled model (layer i = step i of the recursive
 * one, see graph's `unrollRecursive`), layer i's W becomes W_shared + scale·B·A of that step's loop,
 * and its norms become the loop's own where the adapter keeps per-loop norms. The result is a plain
 * decoder that runs anywhere and computes what the adapted recursive model computes.
 */
export function mergeDepthwiseLora(
  unrolled: ReadonlyMap<string, Float32Array>,
  steps: readonly LayerCall[],
  lora: DepthwiseLora,
): Map<string, Float32Array> {
  const out = new Map(unrolled);
  for (const call of steps) {
    for (const module of [...adaptedModules.map((m) => `${m}.weight`), ...normNames.map((n) => `${n}.weight`)]) {
      if (!touches(lora, call, module)) continue;
      const key = layerKey(call.step, module);
      out.set(key, mergedStepTensor(unrolled.get(key), call, module, lora));
    }
  }
  return out;
}

/** Whether the adapter changes this module (`self_attn.q_proj.weight`, `input_layernorm.weight`) at this step. */
function touches(lora: DepthwiseLora, call: LayerCall, module: string): boolean {
  const name = module.replace(/\.weight$/, '');
  if ((normNames as readonly string[]).includes(name))
    return lora.tensors.has(loopNormKey(call.unique, name as NormName, call.loop));
  const adapted = name as AdaptedModule;
  return (
    lora.tensors.has(loraKey(call.unique, adapted, call.loop, 'A')) &&
    lora.tensors.has(loraKey(call.unique, adapted, call.loop, 'B'))
  );
}

/**
 * One tensor of the unrolled model at step `call` with the adapter folded in: W + scale·B·A for an
 * adapted matrix, the loop's own norm weights for a per-loop norm, else `base` itself. A streaming
 * export merges tensor by tensor with it.
 */
export function mergedStepTensor(
  base: Float32Array | undefined,
  call: LayerCall,
  module: string,
  lora: DepthwiseLora,
): Float32Array {
  const key = layerKey(call.step, module);
  const name = module.replace(/\.weight$/, '');
  if ((normNames as readonly string[]).includes(name)) {
    const norm = lora.tensors.get(loopNormKey(call.unique, name as NormName, call.loop));
    if (norm) return norm.dataSync() as Float32Array;
  }
  const a = lora.tensors.get(loraKey(call.unique, name as AdaptedModule, call.loop, 'A')); // [r, in]
  const b = lora.tensors.get(loraKey(call.unique, name as AdaptedModule, call.loop, 'B')); // [out, r]
  if (!base)
    throw new LoraError(
      `cannot merge LoRA of step ${call.step} (stored layer ${call.unique}, loop ${call.loop}): the unrolled model has no ${key}`,
    );
  if (!a || !b) return base;
  if (b.shape[0]! * a.shape[1]! !== base.length) {
    throw new LoraError(
      `LoRA of step ${call.step} gives B·A [${b.shape[0]}, ${a.shape[1]}] but ${key} has ${base.length} values: the adapter does not fit this model`,
    );
  }
  return mergedWeight(base, a as tf.Tensor2D, b as tf.Tensor2D, lora.scale);
}

/** W + scale·B·A as a new array. */
function mergedWeight(base: Float32Array, a: tf.Tensor2D, b: tf.Tensor2D, scale: number): Float32Array {
  const delta = tf.tidy(() => tf.mul(tf.matMul(b, a), scale)); // [out, in]
  const values = delta.dataSync();
  delta.dispose();
  return base.map((w, i) => w + values[i]!);
}
