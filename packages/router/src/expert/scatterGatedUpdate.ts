import { tf } from '@recur/tensor';
import { checkPositions } from './routingDecision.js';

/**
 * MoR's gated update, scattered back (Bae et al. 2025, arXiv 2507.10524, eq. 1 read literally, as the
 * public code does): h_sel ← h_sel + g·Block(h_sel), where blockOut = Block(h_sel) already includes the
 * block's own residual connections. h [T, d], selected (k positions ascending), blockOut [k, d],
 * gate [k] → new h [T, d]. Unselected rows are copied, not added to, so they stay bit-identical
 * (x + 0 would turn −0 into +0); gradients reach h, blockOut and gate through gather/concat.
 */
export function scatterGatedUpdate(
  h: tf.Tensor2D,
  selected: Int32Array,
  blockOut: tf.Tensor2D,
  gate: tf.Tensor1D,
): tf.Tensor2D {
  const [tokens, d] = h.shape;
  const k = selected.length;
  checkPositions(selected, tokens, 'scatterGatedUpdate selected');
  if (blockOut.shape[0] !== k || blockOut.shape[1] !== d)
    throw new RangeError(`scatterGatedUpdate: blockOut [${blockOut.shape}] must be [${k}, ${d}]`);
  if (gate.shape[0] !== k) throw new RangeError(`scatterGatedUpdate: gate [${gate.shape}] must be [${k}]`);
  if (k === 0) return tf.clone(h);
  // Row t of the result comes from h (row t) or from the updated rows (row T + j for selected[j]).
  const source = Int32Array.from({ length: tokens }, (_, t) => t);
  selected.forEach((t, j) => (source[t] = tokens + j));
  return tf.tidy(() => {
    const hSel = tf.gather(h, tf.tensor1d(selected, 'int32')); // [k, d]
    const updated = tf.add(hSel, tf.mul(tf.reshape(gate, [k, 1]), blockOut)); // [k, d]
    const rows = tf.concat([h, updated], 0); // [T + k, d]
    return tf.gather(rows, tf.tensor1d(source, 'int32')) as tf.Tensor2D; // [T, d]
  });
}
