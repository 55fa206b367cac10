import type { Decoder, DepthKvCache, DepthKvMode } from '@recur/graph';
import {
  balancingLoss,
  depthForward,
  expertChoiceRouting,
  routerZLoss,
  tokenChoiceRouting,
  selectionBceLoss,
  type ExpertScoring,
  type TokenChoiceForm,
} from '@recur/router';
import { crossEntropy, tf } from '@recur/tensor';
import { applyBalanceUpdate, defaultBalanceRate, readBalanceBias } from './lossFreeBalance.js';
import { distillationLoss, sequenceObjective, type DistillationOptions, type Objective } from '@recur/train';

/** How a Mixture-of-Recursions router trains (Bae et al. 2025, arXiv 2507.10524). */
export interface MorTraining {
  readonly kind: 'expert' | 'token';
  /** Expert-choice gate scale α (gate = α·σ(logit)). */
  readonly alpha: number;
  /** What deeper loops attend to while training: 'recursion-wise' (MoR's default) or 'shared'. */
  readonly kvMode: DepthKvMode;
  readonly scoring?: ExpertScoring;
  /**
   * Expert-choice: cosine capacity warm-up from full depth over these
   * steps. Token-choice: every token runs full depth this long.
   */
  readonly warmupSteps?: number;
  /** Expert-choice "was selected" BCE coefficient (default 1e-3, MoR's value). */
  readonly bceCoef?: number;
  /** Router z-loss coefficient (default 0: off). */
  readonly zCoef?: number;
  /** Token-choice balancing loss coefficient (default 0.1, MoR's value). */
  readonly balanceCoef?: number;
  /** Token-choice gate form (default 'paper': h₀ + g·f^r(h₀)). */
  readonly tokenForm?: TokenChoiceForm;
  /**
   * Token-choice balancing: the auxiliary loss (default) or loss-free (a bias on the probabilities, updated each step).
   */
  readonly balance?: 'loss' | 'loss-free';
  /** Loss-free balancing rate u (default 1e-3). */
  readonly balanceRate?: number;
}

export interface RoutedSequence {
  /** [L, V] */
  readonly logits: tf.Tensor2D;
  /** The auxiliary router losses, already scaled by their coefficients. */
  readonly aux: tf.Scalar;
  readonly depths: Int32Array;
  /** Holds the sequence's keys/values; dispose it once gradients (if any) are taken. */
  readonly cache: DepthKvCache;
}

/**
 * One sequence through the routed forward as training runs it: expert-choice keeps top-k per
 * recursion (capacity (N_r − r)/N_r, hierarchical, gated h + α·σ·Block(h)); token-choice picks a
 * depth per token up front (gate = its probability). Returns the logits with the auxiliary losses
 * (selection BCE + optional z-loss, or the balancing loss Σ P_i·f_i). `step` drives the warm-ups.
 */
export function routedSequence(
  decoder: Decoder,
  routerParams: ReadonlyMap<string, tf.Tensor>,
  mor: MorTraining,
  ids: ArrayLike<number>,
  step: number,
): RoutedSequence {
  const numRecursions = decoder.loops.loops.length;
  const cache = decoder.newDepthCache(mor.kvMode);
  const warm = { step, warmupSteps: mor.warmupSteps ?? 0 };
  if (mor.kind === 'expert') {
    const scoring = mor.scoring ?? 'sigmoid';
    const routing = expertChoiceRouting(routerParams, {
      numRecursions,
      mode: 'topK',
      alpha: mor.alpha,
      scoring,
      ...warm,
    });
    const out = depthForward(decoder, ids, { cache, routing });
    const zCoef = mor.zCoef ?? 0;
    const terms = routing.decisions.flatMap((d) => [
      selectionBceLoss(d.logits, d.selectedMask, { coef: mor.bceCoef ?? 1e-3 }),
      ...(zCoef > 0 ? [routerZLoss(d.logits, scoring, { coef: zCoef })] : []),
    ]);
    return { logits: out.logits, depths: out.depths, cache, aux: tf.addN(terms) as tf.Scalar };
  }
  const bias = mor.balance === 'loss-free' ? readBalanceBias(routerParams) : undefined;
  const routing = tokenChoiceRouting(routerParams, { ...warm, form: mor.tokenForm ?? 'paper', ...(bias && { bias }) });
  const out = depthForward(decoder, ids, { cache, routing });
  const routed = routing.routed();
  if (!routed) throw new Error('token-choice routing made no choice');
  // Loss-free balancing replaces the auxiliary loss: the bias, not a gradient, evens the loads.
  const aux = bias ? tf.scalar(0) : balancingLoss(routed.probs, routed.depths, { coef: mor.balanceCoef ?? 0.1 });
  return { logits: out.logits, depths: out.depths, cache, aux };
}

export interface MorObjectiveOptions {
  readonly model: Decoder;
  /** The router's weights (tf.Variables when they train). */
  readonly routerParams: ReadonlyMap<string, tf.Tensor>;
  readonly mor: MorTraining;
  /** Distil from this model's logits: alpha·KD + (1 − alpha)·CE. */
  readonly teacher?: Decoder;
  readonly distillation?: DistillationOptions;
}

/**
 * The MoR training objective: mean over sequences of LM loss (or distillation) under the training
 * routing + the auxiliary router losses. `afterStep(step)` (after each optimizer step) applies the
 * loss-free balancing update to the loads that step routed. The per-sequence KV caches hold tensors the backward pass
 * reads, so they are freed at the next micro-batch (or by `dispose`), not inside `loss`.
 */
export function morObjective(
  options: MorObjectiveOptions,
): Objective & { dispose(): void; afterStep(step: number): void } {
  let pending: DepthKvCache[] = [];
  let stepDepths: Int32Array[] = []; // depths the current step routed (every micro-batch), for loss-free balancing
  const release = (): void => {
    for (const cache of pending) cache.dispose();
    pending = [];
  };
  const perSequence = sequenceObjective((seq, teacherLogits, context) => {
    const targets = seq.subarray(1);
    const routed = routedSequence(
      options.model,
      options.routerParams,
      options.mor,
      seq.subarray(0, seq.length - 1),
      context.step,
    );
    pending.push(routed.cache);
    stepDepths.push(routed.depths);
    const lm = teacherLogits
      ? distillationLoss(routed.logits, teacherLogits, targets, options.distillation)
      : crossEntropy(routed.logits, targets);
    return tf.add(lm, routed.aux) as tf.Scalar;
  }, options.teacher);
  return {
    prepare: (batch, context) => {
      release();
      return perSequence.prepare?.(batch, context) ?? [];
    },
    loss: (batch, prepared, context) => {
      release();
      return perSequence.loss(batch, prepared, context);
    },
    dispose: release,
    afterStep: (step) => {
      const { mor } = options;
      // Warm-up steps route every token to full depth: their loads say nothing about the router.
      if (mor.balance === 'loss-free' && step >= (mor.warmupSteps ?? 0))
        applyBalanceUpdate(options.routerParams, stepDepths, mor.balanceRate ?? defaultBalanceRate);
      stepDepths = [];
    },
  };
}

/**
 * Held-out mean NLL (nats) under the training routing after its warm-ups (expert-choice top-k per
 * window: it sees the whole window, as MoR evaluates), with the mean depth of the scored tokens.
 */
export function morHeldOutLoss(
  decoder: Decoder,
  routerParams: ReadonlyMap<string, tf.Tensor>,
  mor: MorTraining,
  windows: readonly Int32Array[],
): { meanNll: number; tokens: number; averageDepth: number } {
  let total = 0;
  let tokens = 0;
  let depthSum = 0;
  for (const window of windows) {
    const targets = window.subarray(1);
    let cache: DepthKvCache | undefined;
    const loss = tf.tidy(() => {
      const routed = routedSequence(
        decoder,
        routerParams,
        mor,
        window.subarray(0, window.length - 1),
        Number.POSITIVE_INFINITY,
      );
      cache = routed.cache;
      depthSum += routed.depths.reduce((a, b) => a + b, 0);
      return crossEntropy(routed.logits, targets);
    });
    cache?.dispose();
    total += loss.dataSync()[0]! * targets.length;
    tokens += targets.length;
    loss.dispose();
  }
  return { meanNll: tokens > 0 ? total / tokens : NaN, tokens, averageDepth: tokens > 0 ? depthSum / tokens : NaN };
}
