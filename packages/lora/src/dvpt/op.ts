import { linear, tf } from '@recur/tensor';

/**
 * One DVPT module's parameters: down [b, d], up [d, b], prompts [P, b].
 *
 * DVPT: Ruan et al., "Dynamic Visual Prompt Tuning for Parameter Efficient Transfer Learning", 2023,
 * arXiv 2309.06123. There, a few learnable prompts cross-attend to the (bottlenecked) features of one
 * image to make a prompt specific to that input, with one such module shared across layers. A causal LM
 * may not let a token's update see later tokens, so here each position t gets its own dynamic prompts,
 * made from the tokens ≤ t only, and reads them back:
 *
 *   x_s = h_s / rms(h_s),  z_s = down·x_s                                   [b]
 *   g_{t,p} = Σ_{s≤t} softmax_s(e_p·z_s / √b) · z_s                          prompt p gathers tokens ≤ t
 *   D_{t,p} = e_p + g_{t,p}                                                   the dynamic prompt
 *   u_t = Σ_p softmax_p(z_t·D_{t,p} / √b) · D_{t,p}                          token t reads its prompts
 *   h'_t = h_t + up·u_t
 *
 * Nothing at a position > t enters u_t, so changing a later token never changes an earlier output.
 * Decoding one token at a time needs, per prompt, only a summary of the tokens before: the log-sum-exp
 * ℓ_p of its scores and the weighted mean g_p. That summary acts as one extra key with score ℓ_p and
 * value g_p, which is exactly the softmax over all earlier tokens (see `DvptCarry`).
 */
export interface DvptParams {
  readonly down: tf.Tensor2D;
  readonly up: tf.Tensor2D;
  readonly prompts: tf.Tensor2D;
}

/** The prompts' attention over positions already seen: ℓ [P] and g [P, b]. */
export interface DvptCarry {
  readonly logSumExp: tf.Tensor1D;
  readonly gathered: tf.Tensor2D;
}

/** rms(h) guard; the input to the bottleneck is h scaled to unit RMS (no learned weight). */
export const DVPT_EPS = 1e-6;
/** Score of a key a query may not see: exp(−1e9 − max) is 0 in float32, and its gradient too. */
const HIDDEN = -1e9;

/**
 * h [T, d] at T consecutive positions (after `carry`'s, if given) → h + update [T, d], and the carry
 * that covers these rows too. Differentiable in h and every parameter.
 */
export function dvptUpdate(
  h: tf.Tensor2D,
  params: DvptParams,
  carry?: DvptCarry,
): { readonly out: tf.Tensor2D; readonly carry: DvptCarry } {
  const [rows] = h.shape;
  const [promptCount, width] = params.prompts.shape;
  const scale = 1 / Math.sqrt(width);
  const x = tf.mul(h, tf.rsqrt(tf.add(tf.mean(tf.square(h), -1, true), DVPT_EPS))) as tf.Tensor2D; // [T, d]
  const z = linear(x, params.down); // [T, b]
  const scores = tf.mul(tf.matMul(params.prompts, z, false, true), scale) as tf.Tensor2D; // [P, T]
  // query row t sees keys s ≤ t: [T, 1, T] bias, 0 or HIDDEN
  const causal = tf.reshape(tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([rows, rows]), -1, 0)), HIDDEN), [
    rows,
    1,
    rows,
  ]);
  let logits = tf.add(tf.reshape(scores, [1, promptCount, rows]), causal) as tf.Tensor3D; // [T, P, T]
  if (carry) {
    const past = tf.broadcastTo<tf.Rank.R3>(tf.reshape(carry.logSumExp, [1, promptCount, 1]), [rows, promptCount, 1]);
    logits = tf.concat([past, logits], 2); // [T, P, 1 + T]
  }
  const weights = tf.softmax(logits, -1); // [T, P, (1 +) T]
  const chunkWeights = carry ? tf.slice(weights, [0, 0, 1], [-1, -1, -1]) : weights; // [T, P, T]
  let gathered = tf.reshape(tf.matMul(tf.reshape(chunkWeights, [rows * promptCount, rows]), z), [
    rows,
    promptCount,
    width,
  ]) as tf.Tensor3D; // [T, P, b]
  if (carry) {
    const pastWeight = tf.slice(weights, [0, 0, 0], [-1, -1, 1]); // [T, P, 1]
    gathered = tf.add(gathered, tf.mul(pastWeight, tf.reshape(carry.gathered, [1, promptCount, width]))) as tf.Tensor3D;
  }
  const dynamic = tf.add(tf.reshape(params.prompts, [1, promptCount, width]), gathered) as tf.Tensor3D; // [T, P, b]
  const read = tf.mul(tf.matMul(tf.reshape(z, [rows, 1, width]), dynamic, false, true), scale); // [T, 1, P]
  const update = tf.reshape(tf.matMul(tf.softmax(read, -1), dynamic), [rows, width]) as tf.Tensor2D; // [T, b]
  const out = tf.add(h, linear(update, params.up)) as tf.Tensor2D; // [T, d]
  const last = tf.slice(logits, [rows - 1, 0, 0], [1, -1, -1]); // [1, P, (1 +) T]
  return {
    out,
    carry: {
      logSumExp: tf.reshape(tf.logSumExp(last, -1), [promptCount]) as tf.Tensor1D, // [P]
      gathered: tf.reshape(tf.slice(gathered, [rows - 1, 0, 0], [1, -1, -1]), [promptCount, width]) as tf.Tensor2D,
    },
  };
}
