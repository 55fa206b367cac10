import { tf } from '@recur/tensor';

/**
 * Mean binary cross-entropy with logits, −mean[y·ln σ(x) + (1 − y)·ln(1 − σ(x))], computed as
 * mean[max(x, 0) − x·y + ln(1 + e^−|x|)] so large |x| neither overflows nor loses the small term.
 * A customGrad with the closed-form gradient (σ(x) − y)/N: it needs no Relu/Abs gradients (which
 * @recur/train does not register) and is exact where autodiff of the stable form would be messy.
 */
const bceWithLogits = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, y, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, y]);
  const n = Math.max(1, x.size);
  const perToken = tf.add(tf.sub(tf.relu(x), tf.mul(x, y)), tf.log(tf.add(1, tf.exp(tf.neg(tf.abs(x)))))); // [A]
  return {
    value: tf.div(tf.sum(perToken), n),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sy] = saved as [tf.Tensor, tf.Tensor];
      return [tf.mul(dy, tf.div(tf.sub(tf.sigmoid(sx), sy), n)), tf.zerosLike(sy)];
    },
  };
});

export interface AuxLossOptions {
  /** Multiplies the loss (default 1e-3 for the BCE, MoR's value; 1e-3 for the z-loss too). */
  readonly coef?: number;
}

/**
 * MoR's auxiliary "was selected" loss (Bae et al. 2025, arXiv 2507.10524, §2.2.1, causality fix):
 * BCE between σ(logit) and 1 for the candidates top-k kept, 0 for the others, mean over candidates,
 * times coef. Trained this way σ(logit) > 0.5 predicts selection without seeing other tokens.
 * logits: [A] (RoutingDecision.logits); selectedMask: A flags (RoutingDecision.selectedMask).
 */
export function selectionBceLoss(
  logits: tf.Tensor1D,
  selectedMask: ArrayLike<number>,
  options: AuxLossOptions = {},
): tf.Scalar {
  if (selectedMask.length !== logits.shape[0])
    throw new RangeError(`selectionBceLoss: ${selectedMask.length} targets for ${logits.shape[0]} logits`);
  return tf.tidy(() => {
    const targets = tf.tensor1d(Float32Array.from(selectedMask, (m) => (m ? 1 : 0))); // [A]
    return tf.mul(bceWithLogits(logits, targets), options.coef ?? 1e-3) as tf.Scalar;
  });
}

/**
 * Router z-loss (ST-MoE, Zoph et al. 2022, arXiv 2202.08906): penalises large logits so the router
 * stays in float range and responsive. ST-MoE's term is mean over tokens of (logsumexp over experts)².
 * - 'sigmoid' (one logit per token): logsumexp over a single logit is the logit, so the analogue is
 *   mean_t x_t², which also keeps σ(x) away from saturation where the BCE gradient vanishes.
 * - 'softmax' (one distribution over the A candidates): (logsumexp_t x_t)², one term per recursion.
 * The max in the logsumexp is taken as a constant (its gradient
 * cancels exactly), so only Sub/Exp/Sum/Log run in autodiff.
 */
export function routerZLoss(
  logits: tf.Tensor1D,
  scoring: 'sigmoid' | 'softmax' = 'sigmoid',
  options: AuxLossOptions = {},
): tf.Scalar {
  const coef = options.coef ?? 1e-3;
  if (logits.shape[0] === 0) return tf.scalar(0);
  return tf.tidy(() => {
    if (scoring === 'sigmoid') return tf.mul(tf.mean(tf.square(logits)), coef) as tf.Scalar;
    const m = Array.from(logits.dataSync()).reduce((a, b) => Math.max(a, b), -Infinity);
    const lse = tf.add(tf.log(tf.sum(tf.exp(tf.sub(logits, m)))), m); // scalar
    return tf.mul(tf.square(lse), coef) as tf.Scalar;
  });
}
