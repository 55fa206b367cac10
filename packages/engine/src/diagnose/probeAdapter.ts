import {
  adaptedModules,
  layerKey,
  type AdaptedModule,
  type DecoderConfig,
  type DecoderWeights,
  type LayerAdapter,
  type LayerCall,
  type NormName,
} from '@recur/graph';
import { tf } from '@recur/tensor';

export const probedNorms: readonly NormName[] = ['input_layernorm', 'post_attention_layernorm'];

/** Where one step's gradient probes sit: a zero added to each projection's output and each norm weight. */
export function probeKey(step: number, name: AdaptedModule | NormName): string {
  return `${step}:${name}`;
}

/**
 * A LayerAdapter that lets one backward pass read every step's parameter gradient without a
 * per-step copy of the (shared) weights. For y = x·W_effᵀ (+ b) at step s (W_eff: the stored
 * weight plus whatever the inner adapter, e.g. depth-wise LoRA, adds), it returns y + p_s with
 * p_s a zero [T, out] probe, so ∂L/∂p_s = ∂L/∂y and ∂L/∂W_eff(s) = (∂L/∂y)ᵀ·x, ∂L/∂b(s) = Σ_rows ∂L/∂y.
 * It keeps each x for that product. Norm weights get a zero [d] probe added: ∂L/∂probe = ∂L/∂w(s).
 * Summed over the steps of one stored layer these are that layer's own weight gradients.
 */
export class ProbeAdapter implements LayerAdapter {
  /** Probes of the current pass by probeKey; set before the forward. */
  probes: ReadonlyMap<string, tf.Tensor> = new Map();
  /** Projection inputs x [T, in] of the current pass by probeKey (kept; freed by `release`). */
  readonly inputs = new Map<string, tf.Tensor2D>();

  constructor(
    private readonly weights: DecoderWeights,
    private readonly inner: LayerAdapter | undefined,
  ) {}

  adapt(module: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    const key = probeKey(call.step, module);
    this.inputs.set(key, tf.keep(x));
    const adapted = this.inner ? this.inner.adapt(module, call, x, y) : y;
    return tf.add(adapted, this.probe(key)) as tf.Tensor2D;
  }

  norm(name: NormName, call: LayerCall): tf.Tensor1D {
    const own =
      this.inner?.norm?.(name, call) ?? (this.weights.get(layerKey(call.unique, `${name}.weight`)) as tf.Tensor1D);
    return tf.add(own, this.probe(probeKey(call.step, name))) as tf.Tensor1D;
  }

  /** Frees the kept inputs (a tensor kept for q, k and v alike is freed once). */
  release(): void {
    tf.dispose([...new Set(this.inputs.values())]);
    this.inputs.clear();
  }

  private probe(key: string): tf.Tensor {
    const p = this.probes.get(key);
    if (!p) throw new Error(`diagnose: no gradient probe for ${key}`);
    return p;
  }
}

/** Zero probes for every step of a T-token pass: projection outputs [T, out] and norm weights [d]. */
export function zeroProbes(config: DecoderConfig, steps: readonly LayerCall[], tokens: number): Map<string, tf.Tensor> {
  const kv = config.numKvHeads * config.headDim;
  const width: Record<AdaptedModule, number> = {
    'self_attn.q_proj': config.numHeads * config.headDim,
    'self_attn.k_proj': kv,
    'self_attn.v_proj': kv,
    'self_attn.o_proj': config.hiddenSize,
    'mlp.gate_proj': config.intermediateSize,
    'mlp.up_proj': config.intermediateSize,
    'mlp.down_proj': config.hiddenSize,
  };
  const probes = new Map<string, tf.Tensor>();
  for (const { step } of steps) {
    for (const module of adaptedModules) probes.set(probeKey(step, module), tf.zeros([tokens, width[module]])); // [T, out]
    for (const name of probedNorms) probes.set(probeKey(step, name), tf.zeros([config.hiddenSize])); // [d]
  }
  return probes;
}
