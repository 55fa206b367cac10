import { causalAttention, tf } from '@recur/tensor';
import { AdapterState } from './adapterState.js';
import type { AttentionCache } from './attentionCache.js';
import type { LayerCall } from './layer.js';

interface LayerEntry {
  k: tf.Tensor3D; // [S, nKvHeads, headDim]
  v: tf.Tensor3D; // [S, nKvHeads, headDim]
}

/**
 * Keys and values of every executed layer step for one sequence (a shared layer run at two
 * depths has two slots). Tensors held here outlive the tidy scope of
 * the step that wrote them, so they are kept explicitly and disposed by `dispose()`.
 */
export class KvCache implements AttentionCache {
  private readonly layers: (LayerEntry | undefined)[];
  private committed = 0;
  /** What stateful adapters (DVPT) carry between calls; freed with the keys and values. */
  readonly adapterState = new AdapterState();

  constructor(readonly numSteps: number) {
    this.layers = new Array<LayerEntry | undefined>(numSteps).fill(undefined);
  }

  /** Tokens already stored (the absolute position of the next token). */
  get length(): number {
    return this.committed;
  }

  /** Appends the rows (the next T positions) to the step's slot and attends causally over the slot. */
  attend(call: LayerCall, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D): tf.Tensor2D {
    const past = this.committed;
    const full = this.append(call.step, k, v); // [past + T, nKvHeads, headDim]
    return causalAttention(q, full.k, full.v, { queryOffset: past });
  }

  /** Appends this step's keys/values for one layer and returns the full [S, nKvHeads, headDim] pair. */
  append(layer: number, k: tf.Tensor3D, v: tf.Tensor3D): LayerEntry {
    const old = this.layers[layer];
    const next: LayerEntry = old
      ? { k: tf.keep(tf.concat([old.k, k], 0)), v: tf.keep(tf.concat([old.v, v], 0)) }
      : { k: tf.keep(tf.clone(k)), v: tf.keep(tf.clone(v)) };
    if (old) {
      old.k.dispose();
      old.v.dispose();
    }
    this.layers[layer] = next;
    return next;
  }

  /** Called once a forward over `tokens` new positions has written every layer. */
  advance(tokens: number): void {
    this.committed += tokens;
  }

  /** Floats held, for memory reports. */
  elementCount(): number {
    return this.layers.reduce((sum, e) => sum + (e ? e.k.size + e.v.size : 0), 0);
  }

  dispose(): void {
    for (const entry of this.layers) {
      entry?.k.dispose();
      entry?.v.dispose();
    }
    this.layers.fill(undefined);
    this.adapterState.dispose();
    this.committed = 0;
  }
}
