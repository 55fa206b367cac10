import type { AdaptedModule, LayerCall, NormName } from '@recur/graph';
import { tf } from '@recur/tensor';
import type { DepthwiseLora } from '../depthwiseLora.js';
import { loopNormKey, loraKey } from '../keys.js';

/** One part's own delta at a projection: its index among the parts and scale·(x·Aᵀ)·Bᵀ [T, out]. */
export interface PartDelta {
  readonly part: number;
  readonly delta: tf.Tensor2D;
}

/**
 * The delta of every part that adapts `module` at this step (parts without factors there add nothing),
 * computed from x [T, in] exactly as each adapter alone would: the composition combines these.
 */
export function partDeltas(
  parts: readonly DepthwiseLora[],
  module: AdaptedModule,
  call: LayerCall,
  x: tf.Tensor2D,
): PartDelta[] {
  const out: PartDelta[] = [];
  parts.forEach((lora, part) => {
    const a = lora.tensors.get(loraKey(call.unique, module, call.loop, 'A')) as tf.Tensor2D | undefined; // [r, in]
    const b = lora.tensors.get(loraKey(call.unique, module, call.loop, 'B')) as tf.Tensor2D | undefined; // [out, r]
    if (!a || !b) return;
    const delta = tf.matMul(tf.matMul(x, a, false, true), b, false, true) as tf.Tensor2D; // [T, out]
    out.push({ part, delta: lora.scale === 1 ? delta : (tf.mul(delta, lora.scale) as tf.Tensor2D) });
  });
  return out;
}

/** The first part's per-loop norm for this step, as stackAdapters does (plain adapters have none). */
export function firstNorm(parts: readonly DepthwiseLora[], name: NormName, call: LayerCall): tf.Tensor1D | undefined {
  for (const lora of parts) {
    const weight = lora.tensors.get(loopNormKey(call.unique, name, call.loop)) as tf.Tensor1D | undefined;
    if (weight) return weight;
  }
  return undefined;
}
