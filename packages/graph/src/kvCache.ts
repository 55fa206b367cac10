import { applyAttentionProbabilities, attentionProbabilities, causalAttention, tf } from '@recur/tensor';
import { AdapterState } from './adapterState.js';
import type { AttentionCache } from './attentionCache.js';
import type { LayerCall } from './layer.js';

interface LayerEntry {
  k: tf.Tensor3D; // [S, nKvHeads, headDim]; [0, …] at an EchoAtt step (it keeps only values)
  v: tf.Tensor3D; // [S, nKvHeads, headDim]
}

/**
 * Keys and values of every executed layer step for one sequence (a shared layer run at two
 * depths has two slots). Tensors held here outlive the tidy scope of
 * the step that wrote them, so they are kept explicitly and disposed by `dispose()`.
 */
export class KvCache implements AttentionCache {
  private readonly layers: (LayerEntry | undefined)[];
  /** EchoAtt: the latest rows' probabilities [nHeads, T, S] of each step another step reuses. */
  private readonly maps = new Map<number, tf.Tensor3D>();
  private committed = 0;
  /** What stateful adapters (DVPT) carry between calls; freed with the keys and values. */
  readonly adapterState = new AdapterState();

  /** `echoSources`: steps whose maps later steps reuse (EchoAtt); they keep their probabilities. */
  constructor(
    readonly numSteps: number,
    private readonly echoSources: ReadonlySet<number> = new Set(),
  ) {
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
    if (!this.echoSources.has(call.step)) return causalAttention(q, full.k, full.v, { queryOffset: past });
    const p = attentionProbabilities(q, full.k, past); // [nHeads, T, past + T]
    this.maps.get(call.step)?.dispose();
    // A clone shares p's data: p itself stays alive for autodiff while the cache drops its own handle.
    this.maps.set(call.step, tf.keep(tf.clone(p)));
    return applyAttentionProbabilities(p, full.v);
  }

  /** EchoAtt: stores only this step's values and applies `source`'s probabilities of the same rows. */
  attendEcho(call: LayerCall, source: number, v: tf.Tensor3D): tf.Tensor2D {
    const p = this.maps.get(source);
    if (!p || !this.echoSources.has(source))
      throw new RangeError(`EchoAtt: step ${call.step} reuses step ${source}'s maps, but step ${source} kept none`);
    const noKeys = tf.zeros([v.shape[0], v.shape[1], 0]) as tf.Tensor3D; // [T, nKvHeads, 0]
    const full = this.append(call.step, noKeys, v); // values [past + T, nKvHeads, headDim]
    if (p.shape[1] !== v.shape[0] || p.shape[2] !== full.v.shape[0])
      throw new RangeError(`EchoAtt: step ${source}'s maps [${p.shape}] do not cover step ${call.step}'s rows`);
    return applyAttentionProbabilities(p, full.v);
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
    for (const p of this.maps.values()) p.dispose();
    this.maps.clear();
    for (const entry of this.layers) {
      entry?.k.dispose();
      entry?.v.dispose();
    }
    this.layers.fill(undefined);
    this.adapterState.dispose();
    this.committed = 0;
  }
}
