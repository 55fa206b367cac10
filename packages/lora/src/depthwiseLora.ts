import { tf } from '@recur/tensor';
import type { AdaptedModule, LayerAdapter, LayerCall, NormName } from '@recur/graph';
import { loopNormKey, loraKey } from './keys.js';

/**
 * Depth-wise LoRA (Relaxed Recursive Transformers, Bae et al. 2024 §3.3): every executed step of
 * a shared layer adds its own low-rank delta, y = x·Wᵀ + scale·(x·Aᵀ)·Bᵀ, so loops can differ while
 * W is stored once. Unmerged: the shared weight stays as it is (what training needs).
 */
export class DepthwiseLora implements LayerAdapter {
  /**
   * @param tensors adapter factors and optional per-loop norms by checkpoint key (owned: `dispose()` frees them)
   * @param scale explicit multiplier of B·A (PEFT's alpha/r); 1 keeps SVD-initialised factors exact
   */
  constructor(
    readonly tensors: ReadonlyMap<string, tf.Tensor>,
    readonly scale = 1,
  ) {}

  static fromArrays(
    arrays: ReadonlyMap<string, { data: Float32Array; shape: readonly number[] }>,
    scale = 1,
  ): DepthwiseLora {
    const tensors = new Map<string, tf.Tensor>();
    for (const [key, { data, shape }] of arrays) tensors.set(key, tf.tensor(data, [...shape], 'float32'));
    return new DepthwiseLora(tensors, scale);
  }

  adapt(module: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    const a = this.tensors.get(loraKey(call.unique, module, call.loop, 'A')) as tf.Tensor2D | undefined; // [r, in]
    const b = this.tensors.get(loraKey(call.unique, module, call.loop, 'B')) as tf.Tensor2D | undefined; // [out, r]
    if (!a || !b) return y;
    const low = tf.matMul(x, a, false, true); // [T, r]
    const delta = tf.matMul(low, b, false, true); // [T, out]
    return tf.add(y, this.scale === 1 ? delta : tf.mul(delta, this.scale)) as tf.Tensor2D;
  }

  norm(name: NormName, call: LayerCall): tf.Tensor1D | undefined {
    return this.tensors.get(loopNormKey(call.unique, name, call.loop)) as tf.Tensor1D | undefined;
  }

  /** Adapter parameters (factors and per-loop norms). */
  get parameterCount(): number {
    let total = 0;
    for (const t of this.tensors.values()) total += t.size;
    return total;
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
  }
}
