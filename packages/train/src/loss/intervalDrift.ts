import { tf } from '@recur/tensor';

/**
 * InTAct's interval drift bound ("InTAct: Interval-based Task Activation Consolidation for Continual
 * Learning", Krukowski et al. 2025, arXiv 2511.17439), for one linear y = x·Wᵀ without bias: inputs of
 * the earlier domain lie in the hypercube lower ≤ x ≤ upper (per input unit), and a weight change ΔW moves
 * output unit j by Δw_j·x. By interval arithmetic, over the whole box
 *   max |Δw_j·x| = |Δw_j·c| + |Δw_j|·r,  c = (lower + upper)/2, r = (upper − lower)/2,
 * so keeping that bound small keeps the unit's function inside the box where it was, while leaving it free
 * outside. Returns Σ_j (|Δw_j·c| + |Δw_j|·r)² over the output units (callers average over units).
 * delta: [out, in]; lower, upper: [in].
 */
export function intervalDriftSum(delta: tf.Tensor2D, lower: tf.Tensor1D, upper: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const centre = tf.reshape(tf.div(tf.add(lower, upper), 2), [-1, 1]); // [in, 1]
    const radius = tf.reshape(tf.div(tf.sub(upper, lower), 2), [-1, 1]); // [in, 1]
    const shift = tf.abs(tf.matMul(delta, centre)); // [out, 1]
    const spread = tf.matMul(tf.abs(delta), radius); // [out, 1]
    return tf.sum(tf.square(tf.add(shift, spread))) as tf.Scalar;
  });
}

/** Float64 reference of intervalDriftSum: delta row-major [out, in]. */
export function refIntervalDriftSum(
  delta: ArrayLike<number>,
  lower: ArrayLike<number>,
  upper: ArrayLike<number>,
): number {
  const inputs = lower.length;
  if (upper.length !== inputs || delta.length % inputs !== 0)
    throw new RangeError(`interval drift: delta of ${delta.length} values does not fit [out, ${inputs}]`);
  let total = 0;
  for (let j = 0; j < delta.length / inputs; j++) {
    let shift = 0;
    let spread = 0;
    for (let i = 0; i < inputs; i++) {
      const d = delta[j * inputs + i]!;
      shift += d * ((lower[i]! + upper[i]!) / 2);
      spread += Math.abs(d) * ((upper[i]! - lower[i]!) / 2);
    }
    total += (Math.abs(shift) + spread) ** 2;
  }
  return total;
}
