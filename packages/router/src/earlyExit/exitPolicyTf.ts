import { tf } from '@recur/tensor';
import type { ExitPolicy, RowInput } from './exitPolicy.js';

/** Per-row confidence the policy compares with its threshold: [T] (max prob, or entropy in nats). */
export function rowConfidence(rows: tf.Tensor2D, kind: 'maxProb' | 'entropy', input: RowInput = 'logits'): tf.Tensor1D {
  return tf.tidy(() => {
    const logp: tf.Tensor2D = input === 'logits' ? tf.logSoftmax(rows) : tf.log(rows); // [T, V]
    const p = tf.exp(logp); // [T, V]
    if (kind === 'maxProb') return tf.max(p, 1) as tf.Tensor1D; // [T]
    // where(p > 0) keeps 0·ln 0 = 0 for probability inputs with exact zeros.
    const plogp = tf.where(tf.greater(p, 0), tf.mul(p, logp), tf.zerosLike(p)); // [T, V]
    return tf.neg(tf.sum(plogp, 1)) as tf.Tensor1D; // [T]
  });
}

/**
 * exitDepths on tensors: `loops[l]` is loop l's readout [T, V]. Only the per-row confidences [T]
 * leave the device; the rule is the same as the plain version (depth = loops run, 1..L).
 */
export function exitDepthsTf(
  loops: readonly tf.Tensor2D[],
  policy: ExitPolicy,
  input: RowInput = 'logits',
): Int32Array {
  const first = loops[0];
  if (first === undefined) throw new RangeError('exitDepthsTf: no loops');
  const tokens = first.shape[0];
  const depths = new Int32Array(tokens).fill(loops.length);
  if (policy.kind === 'fixed') return depths.fill(Math.max(1, Math.min(loops.length, policy.depth)));
  const done = new Uint8Array(tokens);
  for (let l = 0; l < loops.length - 1; l++) {
    const confidence = rowConfidence(loops[l] as tf.Tensor2D, policy.kind, input);
    const values = confidence.dataSync();
    confidence.dispose();
    for (let t = 0; t < tokens; t++) {
      const c = values[t] ?? NaN;
      const confident = policy.kind === 'maxProb' ? c >= policy.threshold : c <= policy.threshold;
      if (!done[t] && confident) {
        depths[t] = l + 1;
        done[t] = 1;
      }
    }
  }
  return depths;
}
