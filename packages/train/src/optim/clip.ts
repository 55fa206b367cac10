import { tf } from '@recur/tensor';

/** √(Σ‖g‖²) over all tensors: a scalar. */
export function globalNorm(grads: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * Scales every gradient by min(1, maxNorm/‖g‖) so the global norm is at most maxNorm (no clipping
 * when maxNorm is Infinity). Returns new tensors and the norm before clipping.
 */
export function clipByGlobalNorm(
  grads: ReadonlyMap<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: number } {
  const normT = globalNorm([...grads.values()]);
  const norm = normT.dataSync()[0]!;
  normT.dispose();
  const scale = Number.isFinite(maxNorm) && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) out.set(name, scale === 1 ? tf.clone(g) : tf.tidy(() => tf.mul(g, scale)));
  return { grads: out, norm };
}
