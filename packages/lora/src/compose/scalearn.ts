import type { AdaptedModule, LayerAdapter, LayerCall, NormName } from '@recur/graph';
import { tf } from '@recur/tensor';
import type { DepthwiseLora } from '../depthwiseLora.js';
import { LoraError } from '../init.js';
import { firstNorm, partDeltas } from './partDeltas.js';
import { scaleKey, type CompositionSpec } from './spec.js';

/**
 * ScaLearn ("ScaLearn: Simple and Highly Parameter-Efficient Task Transfer by Learning to Scale",
 * Frohmann et al. 2023, arXiv 2310.01217): the source adapters stay frozen and only scales on their
 * outputs learn. Here an adapter's output is its LoRA delta at a projection, so
 *   y = x·Wᵀ + Σᵢ sᵢ ⊙ scaleᵢ·(x·Aᵢᵀ)·Bᵢᵀ
 * with sᵢ a vector over the output dimension (`scalearn`) or one scalar (`scalearn-uniform`), per
 * executed step — a (block position, loop) pair in a recursive model — or shared by all steps.
 * The scales are not constrained to sum to 1 (the paper's point against AdapterFusion's softmax).
 * Training runs this form (gradients reach only the coefficients); inference folds it into one LoRA
 * (`scaledLora`), which is exact.
 */
export class ScaLearnAdapter implements LayerAdapter {
  /**
   * @param parts the frozen source adapters (not owned)
   * @param coefficients scales by `scaleKey` (not owned; Variables while training)
   */
  constructor(
    readonly parts: readonly DepthwiseLora[],
    readonly coefficients: ReadonlyMap<string, tf.Tensor>,
    readonly spec: CompositionSpec,
  ) {}

  adapt(module: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    let out = y;
    for (const { part, delta } of partDeltas(this.parts, module, call, x)) {
      const scale = this.scale(part, call, module); // [out] or [1]: broadcasts over the T rows
      out = tf.add(out, tf.mul(delta, scale)) as tf.Tensor2D;
    }
    return out;
  }

  norm(name: NormName, call: LayerCall): tf.Tensor1D | undefined {
    return firstNorm(this.parts, name, call);
  }

  private scale(part: number, call: LayerCall, module: AdaptedModule): tf.Tensor {
    const key = scaleKey(this.spec, part, call, module);
    const scale = this.coefficients.get(key);
    if (!scale) throw new LoraError(`composition has no coefficient ${key}`);
    return scale;
  }
}
