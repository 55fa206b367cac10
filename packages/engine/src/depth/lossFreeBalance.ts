import { balanceBiasKey, updateBalancingBias } from '@recur/router';
import { tf } from '@recur/tensor';

/** MoR's loss-free balancing rate u (Bae et al. 2025, arXiv 2507.10524; Wang et al. 2024, arXiv 2408.15664). */
export const defaultBalanceRate = 1e-3;

/** The loss-free balancing bias [N_r] of a token-choice router (RangeError naming the tensor when absent). */
export function readBalanceBias(routerParams: ReadonlyMap<string, tf.Tensor>): Float32Array {
  const bias = routerParams.get(balanceBiasKey);
  if (bias?.rank !== 1)
    throw new RangeError(`loss-free balancing needs a [N_r] tensor '${balanceBiasKey}' beside the router`);
  return bias.dataSync() as Float32Array;
}

/**
 * After a step: b_i += u·sign(mean load − load_i) over every token the step routed. The bias is a
 * non-trainable tf.Variable (no gradient, no weight decay), assigned in place so checkpoints hold it.
 */
export function applyBalanceUpdate(
  routerParams: ReadonlyMap<string, tf.Tensor>,
  depths: readonly Int32Array[],
  rate: number,
): void {
  const variable = routerParams.get(balanceBiasKey);
  if (!(variable instanceof tf.Variable))
    throw new RangeError(`loss-free balancing: '${balanceBiasKey}' is not a training variable`);
  const all = new Int32Array(depths.reduce((n, d) => n + d.length, 0));
  let offset = 0;
  for (const d of depths) {
    all.set(d, offset);
    offset += d.length;
  }
  if (all.length === 0) return;
  const next = updateBalancingBias(readBalanceBias(routerParams), all, { rate });
  tf.tidy(() => variable.assign(tf.tensor1d(next)));
}
