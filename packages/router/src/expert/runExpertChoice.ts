import { tf } from '@recur/tensor';
import { routeExpertChoice, type ExpertScoring } from './expertChoice.js';
import type { RoutingDecision } from './routingDecision.js';
import { scatterGatedUpdate } from './scatterGatedUpdate.js';
import { routeByThreshold } from './thresholdRouting.js';

/**
 * The shared block applied to the rows that run recursion r: hSel [k, d] → [k, d], including its own
 * residuals. `selected` are their sequence positions (for RoPE, and for attention among active tokens).
 */
export type RecursionBlock = (hSel: tf.Tensor2D, recursion: number, selected: Int32Array) => tf.Tensor2D;

export interface RunExpertChoiceOptions {
  readonly numRecursions: number;
  /** 'topK': training-time capacity routing; 'threshold': decode-time σ > threshold (causal). */
  readonly mode?: 'topK' | 'threshold';
  readonly alpha?: number;
  readonly scoring?: ExpertScoring;
  readonly threshold?: number;
  readonly step?: number;
  readonly warmupSteps?: number;
}

/**
 * A reference expert-choice MoR loop over the recursions (what the decoder forward will do per
 * recursion): route among the tokens kept at r − 1, run the block on the selected rows, scatter back
 * h_sel + g·Block(h_sel). h0: [T, d] → final h [T, d], one RoutingDecision per recursion (their logits
 * feed selectionBceLoss / routerZLoss) and each token's depth. Intermediate states are not disposed here,
 * so autodiff can use them: call it inside tf.tidy (or a gradient function) and dispose the decisions.
 */
export function runExpertChoice(
  params: ReadonlyMap<string, tf.Tensor>,
  h0: tf.Tensor2D,
  block: RecursionBlock,
  options: RunExpertChoiceOptions,
): { h: tf.Tensor2D; decisions: RoutingDecision[]; depths: Int32Array } {
  let h = h0;
  let candidates: Int32Array | null = null;
  const decisions: RoutingDecision[] = [];
  for (let r = 0; r < options.numRecursions; r++) {
    const decision: RoutingDecision =
      options.mode === 'threshold'
        ? routeByThreshold(params, h, candidates, { recursion: r, threshold: options.threshold, alpha: options.alpha })
        : routeExpertChoice(params, h, candidates, { ...options, recursion: r });
    decisions.push(decision);
    if (decision.selected.length === 0) break; // nobody continues: later recursions have no candidates
    const hSel = tf.gather(h, tf.tensor1d(decision.selected, 'int32')) as tf.Tensor2D; // [k, d]
    h = scatterGatedUpdate(h, decision.selected, block(hSel, r, decision.selected), decision.gate); // [T, d]
    candidates = decision.selected;
  }
  return { h, decisions, depths: depthsFromDecisions(decisions, h0.shape[0]) };
}

/** Recursions each token ran (0..N_r) from one forward's decisions: the per-token depth to report. */
export function depthsFromDecisions(decisions: readonly RoutingDecision[], numTokens: number): Int32Array {
  const depths = new Int32Array(numTokens);
  for (const d of decisions) for (const t of d.selected) depths[t] = (depths[t] ?? 0) + 1;
  return depths;
}
