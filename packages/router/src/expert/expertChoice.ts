import { tf } from '@recur/tensor';
import { capacityTokens } from './capacity.js';
import { pickEntries } from './pickEntries.js';
import { allTokens, checkPositions, type RoutingDecision } from './routingDecision.js';
import { scalarRouterLogits } from './routerWeights.js';
import { selectTopK } from './topK.js';

/**
 * 'sigmoid': gate = α·σ(logit) per token. 'softmax': gate = α·softmax over the candidates (not causal: training only).
 */
export type ExpertScoring = 'sigmoid' | 'softmax';

export interface ExpertChoiceOptions {
  /** 0-based recursion index r. */
  readonly recursion: number;
  readonly numRecursions: number;
  /** Gate scale α (default 0.1, MoR's value: keeps early updates small around the residual). */
  readonly alpha?: number;
  readonly scoring?: ExpertScoring;
  /** Key prefix of recursion r's router (default `mor.routers.${r}`: one router per recursion). */
  readonly prefix?: string;
  readonly step?: number;
  readonly warmupSteps?: number;
}

/** Default checkpoint prefix of recursion r's expert-choice router. */
export const expertRouterPrefix = (recursion: number): string => `mor.routers.${recursion}`;

/**
 * Expert-choice routing at recursion r (MoR, Bae et al. 2025, arXiv 2507.10524, §2.2.1): the router
 * scores the candidates — the tokens kept at r − 1 (hierarchical filtering), all tokens at r = 0 —
 * and keeps the top capacityTokens(T, r) of them. h: [T, d], the whole sequence's hidden states.
 */
export function routeExpertChoice(
  params: ReadonlyMap<string, tf.Tensor>,
  h: tf.Tensor2D,
  candidates: Int32Array | null,
  options: ExpertChoiceOptions,
): RoutingDecision {
  const tokens = h.shape[0];
  const cand = candidates ?? allTokens(tokens);
  checkPositions(cand, tokens, 'routeExpertChoice candidates');
  const k = Math.min(cand.length, capacityTokens(tokens, options.recursion, options));
  const alpha = options.alpha ?? 0.1;
  const prefix = options.prefix ?? expertRouterPrefix(options.recursion);
  const logits = tf.tidy(() =>
    scalarRouterLogits(params, prefix, tf.gather(h, tf.tensor1d(cand, 'int32')) as tf.Tensor2D),
  ); // [A]
  // σ and softmax are monotone in the logit, so the top-k is the same under either scoring.
  const { selected, local } = selectTopK(logits.dataSync(), cand, k);
  const gate = tf.tidy(() => {
    const probs = options.scoring === 'softmax' ? tf.softmax(logits) : tf.sigmoid(logits); // [A]
    return tf.mul(pickEntries(probs as tf.Tensor1D, local), alpha) as tf.Tensor1D; // [k]
  });
  const selectedMask = new Uint8Array(cand.length);
  for (const j of local) selectedMask[j] = 1;
  return { candidates: cand, selected, selectedMask, logits, gate };
}
