import { adaptedModules, layerKey, type LayerCall, type NormName } from '@recur/graph';
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
    for (const module of adaptedModules) {
      const a = lora.tensors.get(loraKey(call.unique, module, call.loop, 'A')); // [r, in]
      const b = lora.tensors.get(loraKey(call.unique, module, call.loop, 'B')); // [out, r]
      if (!a || !b) continue;
      const key = layerKey(call.step, `${module}.weight`);
      const base = unrolled.get(key);
      if (!base)
        throw new LoraError(
          `cannot merge LoRA of step ${call.step} (stored layer ${call.unique}, loop ${call.loop}): the unrolled model has no ${key}`,
        );
      if (b.shape[0]! * a.shape[1]! !== base.length) {
        throw new LoraError(
          `LoRA of step ${call.step} gives B·A [${b.shape[0]}, ${a.shape[1]}] but ${key} has ${base.length} values: the adapter does not fit this model`,
        );
      }
      out.set(key, mergedWeight(base, a as tf.Tensor2D, b as tf.Tensor2D, lora.scale));
    }
    for (const name of normNames) {
      const norm = lora.tensors.get(loopNormKey(call.unique, name, call.loop));
      if (norm) out.set(layerKey(call.step, `${name}.weight`), norm.dataSync() as Float32Array);
    }
  }
  return out;
}

/** W + scale·B·A as a new array. */
function mergedWeight(base: Float32Array, a: tf.Tensor2D, b: tf.Tensor2D, scale: number): Float32Array {
  const delta = tf.tidy(() => tf.mul(tf.matMul(b, a), scale)); // [out, in]
  const values = delta.dataSync();
  delta.dispose();
  return base.map((w, i) => w + values[i]!);
}
