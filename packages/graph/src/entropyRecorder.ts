import { attentionEntropy, tf } from '@recur/tensor';
import type { AttentionCache } from './attentionCache.js';
import type { LayerCall } from './layer.js';

/** Mean attention entropy (nats, over heads and query rows) of one executed layer step. */
export interface StepEntropy {
  readonly step: number;
  readonly loop: number;
  readonly layer: number;
  readonly entropy: number;
}

/**
 * An AttentionCache that passes every call through to `inner` and, on the side, measures how
 * spread out each head's causal attention is (`attentionEntropy`). Valid for a forward over a whole
 * sequence from position 0 (then `k` holds every key); the playground's loop probe and
 * `recur diagnose` run it that way.
 */
export class EntropyRecorder implements AttentionCache {
  private readonly pending: { call: LayerCall; value: tf.Scalar }[] = [];

  constructor(private readonly inner: AttentionCache) {}

  attend(call: LayerCall, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, positions: Int32Array): tf.Tensor2D {
    this.pending.push({ call, value: tf.keep(attentionEntropy(q, k)) });
    return this.inner.attend(call, q, k, v, positions);
  }

  /** EchoAtt steps pass through unmeasured (they reuse another step's maps and so its entropy). */
  attendEcho(call: LayerCall, source: number, v: tf.Tensor3D, positions: Int32Array): tf.Tensor2D {
    if (!this.inner.attendEcho) throw new Error(`EchoAtt: step ${call.step} needs a cache that reuses maps`);
    return this.inner.attendEcho(call, source, v, positions);
  }

  /** The recorded entropies, read back once; frees what was kept. */
  async read(): Promise<StepEntropy[]> {
    const out: StepEntropy[] = [];
    for (const { call, value } of this.pending) {
      const [entropy] = await value.data();
      out.push({ step: call.step, loop: call.loop, layer: call.unique, entropy: entropy ?? NaN });
      value.dispose();
    }
    this.pending.length = 0;
    return out;
  }

  dispose(): void {
    for (const { value } of this.pending) value.dispose();
    this.pending.length = 0;
  }
}
