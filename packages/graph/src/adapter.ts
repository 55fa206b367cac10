import type { tf } from '@recur/tensor';
import type { AdapterState } from './adapterState.js';
import type { LayerCall } from './layer.js';

/** The projections an adapter may change, named by their checkpoint module path. */
export const adaptedModules = [
  'self_attn.q_proj',
  'self_attn.k_proj',
  'self_attn.v_proj',
  'self_attn.o_proj',
  'mlp.gate_proj',
  'mlp.up_proj',
  'mlp.down_proj',
] as const;
export type AdaptedModule = (typeof adaptedModules)[number];

export type NormName = 'input_layernorm' | 'post_attention_layernorm';

/**
 * The hook that parameter-efficient adapters (e.g. depth-wise LoRA in @recur/lora) plug into. The
 * graph never imports an adapter package; it only calls this interface at every executed layer step.
 */
export interface LayerAdapter {
  /** Called with the projection input x [T, in] and the base output y = x·Wᵀ [T, out]; returns the output to use. */
  adapt(module: AdaptedModule, call: LayerCall, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D;
  /** A norm weight [d] for this step, or undefined to use the stored layer's own (e.g. per-loop norms). */
  norm?(name: NormName, call: LayerCall): tf.Tensor1D | undefined;
  /**
   * Sees a step's output h [T, d] (after its MLP sub-block) and returns the residual stream the next
   * step reads, e.g. h + a shared dynamic adapter's update (DVPT). Undefined: h passes on unchanged.
   */
  afterStep?(call: LayerCall, h: tf.Tensor2D, rows: StepRows): tf.Tensor2D;
}

/** Where the rows of a step call sit in their sequence, and the state carried from earlier calls over it. */
export interface StepRows {
  /** Absolute positions of the T rows (ascending). */
  readonly positions: Int32Array;
  /** The sequence's cache's adapter state, when it keeps one (see AdapterState). */
  readonly state?: AdapterState;
}
