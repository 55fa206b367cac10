import type { AdaptedModule, LayerAdapter, LayerCall, NormName } from '@recur/graph';
import { adaptedModules } from '@recur/graph';
import { tf } from '@recur/tensor';
import { DepthwiseLora } from './depthwiseLora.js';
import type { ArrayTensor } from './init.js';
import { loopNormKey, loraKey } from './keys.js';
import { generatedKind, type GeneratedKind, type LoraKindSpec } from './generatedKinds.js';

/**
 * LoRA whose per-(position, loop) factors are computed from fewer stored parameters (`--lora-kind hyper`
 * or `scaled`, see kinds.ts). `adapt` generates a step's A and B once per call — once per loop per
 * forward, for all T rows together, never per token — inside the caller's tidy, so autodiff reaches
 * the stored tensors. Inference runs `materialise()`'s dense per-loop LoRA instead (same speed as
 * depth-wise LoRA); this form is what trains and what a folder stores.
 */
export class GeneratedLora implements LayerAdapter {
  private readonly generator: GeneratedKind;

  /**
   * @param tensors the kind's stored tensors and optional per-loop norms by checkpoint key (owned)
   * @param scale explicit multiplier of B·A, as DepthwiseLora's
   */
  constructor(
    readonly spec: LoraKindSpec,
    readonly tensors: ReadonlyMap<string, tf.Tensor>,
    readonly scale = 1,
  ) {
    const generator = generatedKind(spec);
    if (!generator) throw new RangeError(`GeneratedLora needs a generated kind, not ${spec.kind}`);
    this.generator = generator;
  }

  static fromArrays(spec: LoraKindSpec, arrays: ReadonlyMap<string, ArrayTensor>, scale = 1): GeneratedLora {
    const tensors = new Map<string, tf.Tensor>();
    for (const [key, { data, shape }] of arrays) tensors.set(key, tf.tensor(data, [...shape], 'float32'));
    return new GeneratedLora(spec, tensors, scale);
  }

  adapt(module: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    const factors = this.generator.factors(this.tensors, call.unique, module, call.loop);
    if (!factors) return y;
    const low = tf.matMul(x, factors.a, false, true); // [T, r]
    const delta = tf.matMul(low, factors.b, false, true); // [T, out]
    const out = tf.add(y, this.scale === 1 ? delta : tf.mul(delta, this.scale)) as tf.Tensor2D;
    return out;
  }

  norm(name: NormName, call: LayerCall): tf.Tensor1D | undefined {
    return this.tensors.get(loopNormKey(call.unique, name, call.loop)) as tf.Tensor1D | undefined;
  }

  /** Dense per-loop A/B (and the per-loop norms, cloned) for every (stored layer, loop) step given. */
  materialise(steps: readonly { readonly unique: number; readonly loop: number }[]): DepthwiseLora {
    const out = new Map<string, tf.Tensor>();
    for (const { unique, loop } of steps) {
      for (const module of adaptedModules) {
        const factors = this.generator.factors(this.tensors, unique, module, loop);
        if (!factors) continue;
        out.set(loraKey(unique, module, loop, 'A'), factors.a);
        out.set(loraKey(unique, module, loop, 'B'), factors.b);
      }
      for (const name of ['input_layernorm', 'post_attention_layernorm'] as const) {
        const norm = this.tensors.get(loopNormKey(unique, name, loop));
        if (norm) out.set(loopNormKey(unique, name, loop), tf.clone(norm));
      }
    }
    return new DepthwiseLora(out, this.scale);
  }

  /** Stored parameters (generators and embeddings, or templates and scales, and per-loop norms). */
  get parameterCount(): number {
    let total = 0;
    for (const t of this.tensors.values()) total += t.size;
    return total;
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
  }
}
