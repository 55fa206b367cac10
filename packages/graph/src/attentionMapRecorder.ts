import { attentionMapSimilarity, attentionProbabilities, tf } from '@recur/tensor';
import type { AttentionCache } from './attentionCache.js';
import type { LayerCall } from './layer.js';

/**
 * An AttentionCache that passes every call through to `inner` and keeps each step's causal attention
 * probabilities [nHeads, T, T] on the side, so the steps' maps can be compared pairwise (EchoAtt's
 * motivation: inner layers attend alike, arXiv 2409.14595). Valid for one forward over a whole sequence
 * from position 0, as `recur diagnose` runs it.
 */
export class AttentionMapRecorder implements AttentionCache {
  private readonly maps = new Map<number, tf.Tensor3D>();

  constructor(private readonly inner: AttentionCache) {}

  attend(call: LayerCall, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, positions: Int32Array): tf.Tensor2D {
    this.maps.get(call.step)?.dispose();
    this.maps.set(call.step, tf.keep(tf.tidy(() => attentionProbabilities(q, k)))); // [nHeads, T, T]
    return this.inner.attend(call, q, k, v, positions);
  }

  attendEcho(call: LayerCall, source: number, v: tf.Tensor3D, positions: Int32Array): tf.Tensor2D {
    if (!this.inner.attendEcho) throw new Error(`EchoAtt: step ${call.step} needs a cache that reuses maps`);
    const map = this.maps.get(source);
    if (map) this.maps.set(call.step, tf.keep(tf.clone(map))); // it attends exactly as its source does
    return this.inner.attendEcho(call, source, v, positions);
  }

  /**
   * similarity[a][b] = `attentionMapSimilarity` of steps a and b (mean over heads and query rows of
   * 1 − Jensen–Shannon divergence in bits); `steps` executed steps, NaN where a step recorded nothing.
   */
  async similarity(steps: number): Promise<number[][]> {
    const out = Array.from({ length: steps }, () => new Array<number>(steps).fill(Number.NaN));
    for (let a = 0; a < steps; a++) {
      const pa = this.maps.get(a);
      if (!pa) continue;
      out[a]![a] = 1;
      for (let b = 0; b < a; b++) {
        const pb = this.maps.get(b);
        if (!pb) continue;
        const value = tf.tidy(() => attentionMapSimilarity(pa, pb));
        out[a]![b] = out[b]![a] = (await value.data())[0] ?? Number.NaN;
        value.dispose();
      }
    }
    return out;
  }

  dispose(): void {
    for (const map of this.maps.values()) map.dispose();
    this.maps.clear();
  }
}
