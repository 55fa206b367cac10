import * as tf from '@tensorflow/tfjs-core';
import { groupQueries, ungroupOutput } from '../attentionLayout.js';
import type { CausalAttentionOptions } from '../causalAttention.js';
import { causalAttentionComposite } from '../causalAttentionComposite.js';
import { maskScores } from '../causalMask.js';

/**
 * causalAttention on wasm. tfjs-backend-wasm sends a matMul to XNNPACK only when it is batch 1 with
 * no transpose flags; batched ones take a scalar loop ~10× slower. So with many query rows this runs
 * one plain 2D matMul pair per kv head (a handful per call, not one per query head).
 * Splitting K/V per kv head costs a full copy of the source per slice (the wasm Slice kernel reads
 * the whole tensor back), which outweighs the faster matMul when few rows share a kv head: decode
 * and short chunks stay on the batched composite. Crossover measured at ≈3–8 rows per kv head.
 */
export function causalAttentionWasm(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  opts: CausalAttentionOptions,
): tf.Tensor2D {
  const [t, nHeads] = q.shape;
  const nKvHeads = k.shape[1];
  const rowsPerKvHead = (nHeads / nKvHeads) * t;
  if (rowsPerKvHead < 8 * nKvHeads) return causalAttentionComposite(q, k, v, opts);
  return tf.tidy(() => {
    const qg = tf.unstack(groupQueries(q, nKvHeads)); // nKvHeads × [group·T, headDim]
    const kt = tf.unstack(tf.transpose(k, [1, 2, 0])); // nKvHeads × [headDim, S]
    const vh = tf.unstack(tf.transpose(v, [1, 0, 2])); // nKvHeads × [S, headDim]
    const heads = qg.map((qh, kv) => {
      const scores = tf.matMul(qh, kt[kv] as tf.Tensor2D); // [group·T, S]
      const probs = tf.softmax(maskScores(scores, t, opts.queryOffset)); // [group·T, S]
      return tf.matMul(probs, vh[kv] as tf.Tensor2D); // [group·T, headDim]
    });
    return ungroupOutput(tf.stack(heads) as tf.Tensor3D, t); // [T, nHeads·headDim]
  });
}
