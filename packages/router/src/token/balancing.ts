import { tf } from '@recur/tensor';
import { depthLoads } from './tokenChoice.js';

/**
 * Load-balancing loss for token-choice routing (Switch Transformer, Fedus et al. 2021, arXiv
 * 2101.03961; used by MoR, arXiv 2507.10524): coef·N_r·Σ_i P_i·f_i, where P_i = mean_t probs[t, i]
 * (differentiable) and f_i = fraction of tokens whose chosen depth is i + 1 (a constant). It is 1·coef
 * when routing is uniform and grows as depths collapse. probs: [T, N_r]; coef default 0.1.
 */
export function balancingLoss(probs: tf.Tensor2D, depths: Int32Array, options: { coef?: number } = {}): tf.Scalar {
  const [tokens, n] = probs.shape;
  if (depths.length !== tokens) throw new RangeError(`balancingLoss: ${depths.length} depths for ${tokens} rows`);
  const f = depthLoads(depths, n).map((c) => c / Math.max(1, tokens));
  return tf.tidy(() => {
    const p = tf.mean(probs, 0); // [N_r]
    return tf.mul(tf.sum(tf.mul(p, tf.tensor1d(Float32Array.from(f)))), (options.coef ?? 0.1) * n) as tf.Scalar;
  });
}

/**
 * Loss-free balancing (Wang et al. 2024, arXiv 2408.15664; DeepSeek-V3): after each step,
 * b_i += u·sign(mean_load − load_i), so an under-used depth becomes more attractive to the choice.
 * The bias only shifts which depth wins, never the gate. Returns a new array; u default 1e-3.
 */
export function updateBalancingBias(
  bias: Float32Array,
  depths: Int32Array,
  options: { rate?: number } = {},
): Float32Array {
  const n = bias.length;
  const load = depthLoads(depths, n);
  const mean = depths.length / n;
  const u = options.rate ?? 1e-3;
  return bias.map((b, i) => b + u * Math.sign(mean - (load[i] ?? 0)));
}
