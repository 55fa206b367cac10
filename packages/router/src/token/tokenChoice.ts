import { gaussianArray, linear, tf } from '@recur/tensor';

/** Checkpoint key of the token-choice router, [N_r, d] (Hugging Face [out, in] layout). */
export const tokenRouterKey = 'mor.token_router.weight';
/** Checkpoint key of the loss-free balancing bias [N_r]: saved with the model, never trained by gradients. */
export const balanceBiasKey = 'mor.token_router.balance_bias';

/** N(0, std²) init of the token-choice router weight [N_r, d], deterministic in seed. */
export function initTokenRouter(options: {
  hiddenSize: number;
  numRecursions: number;
  std?: number;
  seed?: number;
}): Map<string, { shape: number[]; data: Float32Array }> {
  const { hiddenSize: d, numRecursions: n } = options;
  const data = gaussianArray(n * d, options.seed ?? 0).map((x) => x * (options.std ?? 0.02));
  return new Map([[tokenRouterKey, { shape: [n, d], data }]]);
}

export interface TokenChoiceOptions {
  /** Loss-free balancing bias [N_r], added to the probabilities for the top-1 choice only (never to the gate). */
  readonly bias?: Float32Array;
  /** Route every token to full depth while step < warmupSteps (default 0: no warm-up). */
  readonly step?: number;
  readonly warmupSteps?: number;
  readonly key?: string;
}

export interface TokenChoiceRouting {
  /** Router logits [T, N_r] and their softmax [T, N_r]: what balancingLoss reads. */
  readonly logits: tf.Tensor2D;
  readonly probs: tf.Tensor2D;
  /** Chosen depth per token, 1..N_r: the token runs recursions 0..depth−1. */
  readonly depths: Int32Array;
  /** Probability of the chosen depth per token: [T]. */
  readonly gate: tf.Tensor1D;
}

/**
 * Token-choice MoR (Bae et al. 2025, arXiv 2507.10524, §2.2.2): one router d → N_r scores depths once,
 * on the hidden state entering the first recursion; each token takes the top-1 depth of softmax + bias
 * (the public MoR code adds the balancing bias to the probabilities, not the logits) and its gate is
 * the unbiased probability of that depth. Row-wise, hence causal at decode time.
 * During the warm-up every token takes depth N_r, gated by that depth's probability so the router
 * still learns. h: [T, d]. The caller owns the tensors.
 */
export function routeTokenChoice(
  params: ReadonlyMap<string, tf.Tensor>,
  h: tf.Tensor2D,
  options: TokenChoiceOptions = {},
): TokenChoiceRouting {
  const key = options.key ?? tokenRouterKey;
  const weight = params.get(key);
  if (weight === undefined || weight.rank !== 2) throw new RangeError(`routeTokenChoice: no [N_r, d] tensor '${key}'`);
  const tokens = h.shape[0];
  const n = weight.shape[0] ?? 0;
  if (options.bias !== undefined && options.bias.length !== n)
    throw new RangeError(`routeTokenChoice: bias has ${options.bias.length} entries for ${n} depths`);
  const logits = linear(h, weight as tf.Tensor2D); // [T, N_r]
  const probs = tf.softmax(logits); // [T, N_r]
  const depths = new Int32Array(tokens);
  const warm = options.warmupSteps !== undefined && (options.step ?? Infinity) < options.warmupSteps;
  const values = warm ? new Float32Array(0) : probs.dataSync();
  for (let t = 0; t < tokens; t++) {
    let best = n - 1;
    if (!warm) {
      let bestScore = -Infinity;
      for (let i = 0; i < n; i++) {
        const s = (values[t * n + i] ?? NaN) + (options.bias?.[i] ?? 0);
        if (s > bestScore) [best, bestScore] = [i, s]; // strict: ties go to the shallower depth
      }
    }
    depths[t] = best + 1;
  }
  const gate = tf.tidy(() => {
    const pick = tf.oneHot(
      tf.tensor1d(
        depths.map((x) => x - 1),
        'int32',
      ),
      n,
    ); // [T, N_r]
    return tf.sum(tf.mul(probs, tf.cast(pick, 'float32')), 1) as tf.Tensor1D; // [T]
  });
  return { logits, probs, depths, gate };
}

/** Tokens still running at recursion r (depth > r), positions ascending: the forward's active set. */
export function activeAtRecursion(depths: Int32Array, recursion: number): Int32Array {
  const active: number[] = [];
  depths.forEach((depth, t) => {
    if (depth > recursion) active.push(t);
  });
  return Int32Array.from(active);
}

/** Tokens per depth: load[i] = #{t : depth_t = i + 1}. */
export function depthLoads(depths: Int32Array, numRecursions: number): Float64Array {
  const load = new Float64Array(numRecursions);
  for (const depth of depths) {
    if (depth < 1 || depth > numRecursions)
      throw new RangeError(`depthLoads: depth ${depth} outside 1..${numRecursions}`);
    load[depth - 1] = (load[depth - 1] ?? 0) + 1;
  }
  return load;
}
