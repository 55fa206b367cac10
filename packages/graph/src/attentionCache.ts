import type { tf } from '@recur/tensor';
import type { AdapterState } from './adapterState.js';
import type { LayerCall } from './layer.js';

/**
 * What a layer's self-attention talks to: it stores this call's keys/values as the cache's rules say
 * and attends q to what the call may see. `KvCache` is the plain causal cache of one sequence;
 * `DepthKvCache` adds per-token depth (tokens that skip loops, KV shared across loops).
 */
export interface AttentionCache {
  /**
   * q [T, nHeads, headDim], k and v [T, nKvHeads, headDim] of rows at absolute `positions` →
   * attention output [T, nHeads·headDim].
   */
  attend(call: LayerCall, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, positions: Int32Array): tf.Tensor2D;
  /** Where stateful adapters keep what they carry between calls over this sequence (absent: none can). */
  readonly adapterState?: AdapterState;
  /**
   * EchoAtt: stores this call's values v [T, nKvHeads, headDim] (no keys) and applies step `source`'s
   * attention probabilities of the same rows to them → [T, nHeads·headDim]. Absent where a cache cannot
   * reuse maps (per-token depth); a model with EchoAtt then fails with a clear error.
   */
  attendEcho?(call: LayerCall, source: number, v: tf.Tensor3D, positions: Int32Array): tf.Tensor2D;
}
