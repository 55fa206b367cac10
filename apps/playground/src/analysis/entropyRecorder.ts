import type { AttentionCache, LayerCall } from '@recur/graph';
import { tf } from '@recur/tensor';

/** Mean attention entropy (nats, over heads and query rows) of one executed layer step. */
export interface StepEntropy {
  readonly step: number;
  readonly loop: number;
  readonly layer: number;
  readonly entropy: number;
}

/**
 * An AttentionCache that passes every call through to `inner` and, on the side, measures how
 * spread out each head's causal attention is: H = −Σ_s p(s)·ln p(s) with p = softmax(q·kᵀ/√d)
 * over the keys a row may see, averaged over heads and rows. Valid for a forward over a whole
 * sequence from position 0 (then `k` holds every key); the probe only runs it that way.
 */
export class EntropyRecorder implements AttentionCache {
  private readonly pending: { call: LayerCall; value: tf.Scalar }[] = [];

  constructor(private readonly inner: AttentionCache) {}

  attend(call: LayerCall, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, positions: Int32Array): tf.Tensor2D {
    this.pending.push({ call, value: tf.keep(tf.tidy(() => meanEntropy(q, k))) });
    return this.inner.attend(call, q, k, v, positions);
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

/** q [T, nHeads, hd], k [T, nKvHeads, hd] (rotated) → mean causal attention entropy, a scalar. */
function meanEntropy(q: tf.Tensor3D, k: tf.Tensor3D): tf.Scalar {
  const [t, nHeads, headDim] = q.shape;
  const group = nHeads / k.shape[1];
  const kvHead = tf.tensor1d(
    Array.from({ length: nHeads }, (_, h) => Math.floor(h / group)),
    'int32',
  );
  const keys = tf.transpose(tf.gather(k, kvHead, 1), [1, 2, 0]); // [nHeads, hd, T]
  const queries = tf.transpose(q, [1, 0, 2]); // [nHeads, T, hd]
  const scores = tf.div(tf.matMul(queries, keys), Math.sqrt(headDim)); // [nHeads, T, T]
  const index = tf.range(0, t, 1, 'int32'); // [T]
  const future = tf.greater(tf.reshape(index, [1, t]), tf.reshape(index, [t, 1])); // [T, T]: key after query
  const masked = tf.where(future, tf.fill([t, t], -1e30), scores); // [nHeads, T, T]
  const logP = tf.logSoftmax(masked, -1); // [nHeads, T, T]
  const plogp = tf.where(future, tf.zerosLike(logP), tf.mul(tf.exp(logP), logP)); // masked keys add 0
  return tf.neg(tf.mean(tf.sum(plogp, -1))) as tf.Scalar;
}
