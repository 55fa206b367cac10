import type { AdaptedModule, LayerAdapter, LayerCall, NormName } from '@recur/graph';
import { tf } from '@recur/tensor';
import type { DepthwiseLora } from '../depthwiseLora.js';
import { LoraError } from '../init.js';
import { firstNorm, partDeltas } from './partDeltas.js';
import { gateKey, type CompositionSpec } from './spec.js';

/**
 * Gated fusion of several frozen LoRAs, the gating half of AutoLoRA ("AutoLoRA: Automatic LoRA
 * Retrieval and Fine-Grained Gated Fusion for Text-to-Image Generation", 2025): a small gate at each
 * step reads the hidden state per token and outputs context-dependent mixing weights over the
 * adapters' deltas, so the mix changes with the input and with depth. The paper's timesteps are our
 * loops: each (block position, loop) step has its own gate unless shared. Each projection's gate reads
 * that projection's input x [T, in] (the normed layer input for q/k/v/gate/up):
 *   g = act(x·Wgᵀ + bg) [T, n],  y = x·Wᵀ + Σᵢ g[:, i] ⊙ scaleᵢ·(x·Aᵢᵀ)·Bᵢᵀ
 * with act a softmax over the parts or a sigmoid per part. The weights depend on x, so this never
 * folds into dense weights; it runs on the tfjs decoder.
 */
export class GatedFusion implements LayerAdapter {
  /**
   * @param parts the frozen source adapters
   * @param coefficients gate weights and biases by `gateKey`
   * @param owned whether `dispose()` frees the parts and coefficients (a loaded composition owns them)
   */
  constructor(
    readonly parts: readonly DepthwiseLora[],
    readonly coefficients: ReadonlyMap<string, tf.Tensor>,
    readonly spec: CompositionSpec,
    private readonly owned = false,
  ) {}

  adapt(module: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    const deltas = partDeltas(this.parts, module, call, x);
    if (deltas.length === 0) return y;
    const weights = this.mixingWeights(module, call, x); // [T, n]
    let out = y;
    for (const { part, delta } of deltas) {
      const weight = tf.slice(weights, [0, part], [-1, 1]); // [T, 1]
      out = tf.add(out, tf.mul(delta, weight)) as tf.Tensor2D;
    }
    return out;
  }

  norm(name: NormName, call: LayerCall): tf.Tensor1D | undefined {
    return firstNorm(this.parts, name, call);
  }

  /** The gate's mixing weights over the parts for each row of x [T, in]: [T, n]. */
  mixingWeights(module: AdaptedModule, call: LayerCall, x: tf.Tensor2D): tf.Tensor2D {
    const weight = this.tensor(gateKey(this.spec, call, module, 'weight')) as tf.Tensor2D; // [n, in]
    const bias = this.tensor(gateKey(this.spec, call, module, 'bias')); // [n]
    const logits = tf.add(tf.matMul(x, weight, false, true), bias) as tf.Tensor2D; // [T, n]
    return (this.spec.gate ?? 'softmax') === 'softmax' ? tf.softmax(logits) : tf.sigmoid(logits);
  }

  dispose(): void {
    if (!this.owned) return;
    for (const part of this.parts) part.dispose();
    for (const t of this.coefficients.values()) t.dispose();
  }

  private tensor(key: string): tf.Tensor {
    const t = this.coefficients.get(key);
    if (!t) throw new LoraError(`composition has no gate tensor ${key}`);
    return t;
  }
}
