import { tf } from '@recur/tensor';
import { expertRouterPrefix } from './expertChoice.js';
import { pickEntries } from './pickEntries.js';
import { allTokens, checkPositions, type RoutingDecision } from './routingDecision.js';
import { scalarRouterLogits } from './routerWeights.js';

export interface ThresholdRoutingOptions {
  readonly recursion: number;
  /** Continue when σ(logit) > threshold (default 0.5: what the BCE aux loss trains the router for). */
  readonly threshold?: number;
  readonly alpha?: number;
  readonly prefix?: string;
}

/** Pure rule: 1 where σ(logit) > threshold, i.e. logit > ln(threshold/(1 − threshold)). */
export function thresholdDecisions(logits: ArrayLike<number>, threshold = 0.5): Uint8Array {
  const cut = Math.log(threshold / (1 - threshold));
  return Uint8Array.from(logits, (x) => (x > cut ? 1 : 0));
}

/**
 * Decode-time expert-choice routing (ours; the public MoR code has none): the candidates continue to
 * recursion r where their own σ(logit) > threshold. Causal — the router is row-wise and no top-k
 * compares tokens — so a token's depth never depends on later tokens. Recursion 0 keeps everyone, as
 * its training capacity is the whole sequence. Same RoutingDecision as routeExpertChoice, so a
 * forward loop can switch between them.
 */
export function routeByThreshold(
  params: ReadonlyMap<string, tf.Tensor>,
  h: tf.Tensor2D,
  candidates: Int32Array | null,
  options: ThresholdRoutingOptions,
): RoutingDecision {
  const tokens = h.shape[0];
  const cand = candidates ?? allTokens(tokens);
  checkPositions(cand, tokens, 'routeByThreshold candidates');
  const prefix = options.prefix ?? expertRouterPrefix(options.recursion);
  const logits = tf.tidy(() =>
    scalarRouterLogits(params, prefix, tf.gather(h, tf.tensor1d(cand, 'int32')) as tf.Tensor2D),
  ); // [A]
  const selectedMask =
    options.recursion === 0
      ? new Uint8Array(cand.length).fill(1)
      : thresholdDecisions(logits.dataSync(), options.threshold);
  const local = Int32Array.from(Array.from(selectedMask).flatMap((m, j) => (m ? [j] : [])));
  const selected = local.map((j) => cand[j] ?? -1);
  // [k]
  const gate = tf.tidy(() => tf.mul(pickEntries(tf.sigmoid(logits), local), options.alpha ?? 0.1) as tf.Tensor1D);
  return { candidates: cand, selected, selectedMask, logits, gate };
}
