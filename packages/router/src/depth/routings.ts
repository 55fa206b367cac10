import { tf } from '@recur/tensor';
import { shouldExit, type ExitPolicy } from '../earlyExit/exitPolicy.js';
import { routeExpertChoice, type ExpertScoring } from '../expert/expertChoice.js';
import type { RoutingDecision } from '../expert/routingDecision.js';
import { routeByThreshold } from '../expert/thresholdRouting.js';
import { routeTokenChoice, type TokenChoiceRouting } from '../token/tokenChoice.js';
import type { LoopChoice, LoopRouting } from './depthForward.js';

/**
 * Early exit (Relaxed Recursive Transformers, Bae et al. 2024, §3.4): before loop r ≥ 1 each active
 * token reads out its current state and leaves when the policy says so. Row-wise, hence causal.
 */
export function earlyExitRouting(policy: ExitPolicy): LoopRouting {
  return {
    update: 'replace',
    choose(r, _h, candidates, probe): LoopChoice {
      if (r === 0) return { selected: candidates };
      // no readout needed
      if (policy.kind === 'fixed') return { selected: r < policy.depth ? candidates : new Int32Array(0) };
      const logits = probe(); // [A, V]
      const rows = logits.dataSync() as Float32Array;
      const v = logits.shape[1];
      logits.dispose();
      return { selected: candidates.filter((_, j) => !shouldExit(rows.subarray(j * v, (j + 1) * v), r - 1, policy)) };
    },
  };
}

export interface ExpertRoutingOptions {
  readonly numRecursions: number;
  /** 'topK' (training: capacity per recursion, not causal) or 'threshold' (decode: σ(logit) > threshold, causal). */
  readonly mode: 'topK' | 'threshold';
  readonly alpha?: number;
  readonly scoring?: ExpertScoring;
  /** σ threshold of every recursion in 'threshold' mode (default 0.5). */
  readonly threshold?: number;
  /**
   * Per-recursion σ thresholds (index r for recursion r, e.g.
   * calibrated ones); where one is missing, `threshold` applies.
   */
  readonly thresholds?: readonly number[];
  readonly step?: number;
  readonly warmupSteps?: number;
}

/** Expert-choice MoR routing with its decisions kept for the auxiliary losses. */
export interface ExpertRouting extends LoopRouting {
  readonly decisions: RoutingDecision[];
}

/** Expert-choice MoR (Bae et al. 2025, arXiv 2507.10524, §2.2.1): one scalar router per recursion, hierarchical. */
export function expertChoiceRouting(
  params: ReadonlyMap<string, tf.Tensor>,
  options: ExpertRoutingOptions,
): ExpertRouting {
  const decisions: RoutingDecision[] = [];
  return {
    update: 'gated',
    decisions,
    choose(r, h, candidates): LoopChoice {
      const threshold = options.thresholds?.[r] ?? options.threshold;
      const decision =
        options.mode === 'threshold'
          ? routeByThreshold(params, h, candidates, {
              recursion: r,
              ...(threshold !== undefined && { threshold }),
              ...(options.alpha !== undefined && { alpha: options.alpha }),
            })
          : routeExpertChoice(params, h, candidates, { ...options, recursion: r });
      decisions.push(decision);
      return { selected: decision.selected, gate: decision.gate };
    },
  };
}

/** Token-choice MoR routing with the router's output kept for the balancing loss. */
export interface TokenRouting extends LoopRouting {
  /** Set by the first loop's choice. */
  readonly routed: () => TokenChoiceRouting | undefined;
}

/** How a token-choice model applies its gate (Bae et al. 2025, arXiv 2507.10524, §2.2.2). */
export type TokenChoiceForm = 'paper' | 'gated-every-loop';

export interface TokenChoiceRoutingOptions {
  /**
   * 'paper' (default): loops run ungated, final = h₀ + g·f^r(h₀), as the
   * public MoR code does. 'gated-every-loop': h ← h + g·Block(h) each loop.
   */
  readonly form?: TokenChoiceForm;
  readonly bias?: Float32Array;
  readonly step?: number;
  readonly warmupSteps?: number;
}

/**
 * Token-choice MoR (§2.2.2): the depth of every token is chosen once, before loop 0, and gated by the
 * chosen depth's probability — once at the end ('paper') or at each loop it runs ('gated-every-loop').
 * Both are row-wise: a token's KV at loop r depends only on its own (and earlier tokens') states.
 */
export function tokenChoiceRouting(
  params: ReadonlyMap<string, tf.Tensor>,
  options: TokenChoiceRoutingOptions = {},
): TokenRouting {
  let routed: TokenChoiceRouting | undefined;
  const everyLoop = options.form === 'gated-every-loop';
  return {
    update: everyLoop ? 'gated' : 'gated-once',
    routed: () => routed,
    choose(r, h, candidates): LoopChoice {
      if (r === 0) routed = routeTokenChoice(params, h, options);
      const { depths, gate } = routed!;
      const selected = candidates.filter((t) => depths[t]! > r);
      if (!everyLoop) return { selected };
      // Rows of a [T, 1] column rather than entries of a vector: @recur/train's gather gradient covers row gathers.
      const column = tf.reshape(gate, [gate.shape[0], 1]) as tf.Tensor2D; // [T, 1]
      const picked = tf.gather(column, tf.tensor1d(selected, 'int32')) as tf.Tensor2D; // [k, 1]
      return { selected, gate: tf.reshape(picked, [selected.length]) as tf.Tensor1D }; // [k]
    },
    finalGate: () => routed!.gate,
  };
}
