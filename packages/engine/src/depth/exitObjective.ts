import type { Decoder } from '@recur/graph';
import { exitStates, perLoopCrossEntropy, selfDistillationLoss } from '@recur/router';
import { tf } from '@recur/tensor';
import {
  distillationLoss,
  featureDistillationLoss,
  sequenceObjective,
  type DistillationOptions,
  type Objective,
} from '@recur/train';

/**
 * What the deepest exit teaches the shallower ones: its logits (KL at a temperature), its final-normed
 * state (MSE, feature distillation), or both — dual self-distillation (DSD, Banerjee et al. 2023,
 * arXiv 2306.03271: labels into every stage plus the deepest stage into the shallower ones).
 */
export type SelfDistillKind = 'logits' | 'features' | 'dual';

/** Early-exit training (Relaxed Recursive Transformers, Bae et al. 2024, arXiv 2410.20672, §3.4). */
export interface EarlyExitTraining {
  /** Weight of each exit's loss, shallowest first, the deepest included (absent: 1); normalised to sum 1. */
  readonly weights?: readonly number[];
  /**
   * The deepest exit into the earlier ones, times `weight`: KL at `temperature` (kind `logits`, the default;
   * teacher behind a stop-gradient unless told otherwise), MSE of the final-normed states with the deepest
   * detached (kind `features`), or the sum of both (kind `dual`).
   */
  readonly selfDistill?: {
    readonly weight: number;
    readonly temperature: number;
    readonly stopGradient?: boolean;
    readonly kind?: SelfDistillKind;
  };
}

export interface EarlyExitObjectiveOptions {
  readonly model: Decoder;
  readonly exit: EarlyExitTraining;
  /** Distil every exit from this model (alpha·KD + (1 − alpha)·CE per exit). */
  readonly teacher?: Decoder;
  readonly distillation?: DistillationOptions;
}

/**
 * Σ_d ŵ_d·loss(exit d) + λ·self-distillation (logits, features or both), where exit d is the model's output when every token
 * leaves after d loops (`exitReadouts`: epilogue + head, what decode-time early exit outputs), so each
 * loop learns to be a usable exit.
 */
export function earlyExitObjective(options: EarlyExitObjectiveOptions): Objective {
  return sequenceObjective((seq, teacherLogits) => sequenceLoss(options, seq, teacherLogits), options.teacher);
}

function sequenceLoss(
  options: EarlyExitObjectiveOptions,
  seq: Int32Array,
  teacherLogits: tf.Tensor2D | undefined,
): tf.Scalar {
  const targets = seq.subarray(1);
  const states = exitStates(options.model, seq.subarray(0, seq.length - 1)); // N × [L, d]
  const readouts = states.map((state) => options.model.lmHead(state)); // N × [L, V]
  const exitLoss = teacherLogits
    ? weightedDistillation(readouts, teacherLogits, targets, options)
    : perLoopCrossEntropy(readouts, targets, { ...(options.exit.weights && { weights: options.exit.weights }) });
  const self = options.exit.selfDistill;
  if (!self || self.weight === 0) return exitLoss;
  const kind = self.kind ?? 'logits';
  const terms: tf.Scalar[] = [];
  if (kind !== 'features')
    terms.push(
      selfDistillationLoss(readouts, { temperature: self.temperature, stopGradient: self.stopGradient ?? true }),
    );
  if (kind !== 'logits') terms.push(featureDistillationLoss(states));
  return tf.add(exitLoss, tf.mul(tf.addN(terms), self.weight)) as tf.Scalar;
}

function weightedDistillation(
  readouts: tf.Tensor2D[],
  teacherLogits: tf.Tensor2D,
  targets: Int32Array,
  options: EarlyExitObjectiveOptions,
): tf.Scalar {
  const raw = readouts.map((_, d) => options.exit.weights?.[d] ?? 1);
  const total = raw.reduce((a, b) => a + b, 0);
  if (raw.length < (options.exit.weights?.length ?? 0) || total <= 0 || raw.some((w) => !Number.isFinite(w) || w < 0)) {
    throw new RangeError(
      `exit weights must be ${readouts.length} finite values ≥ 0 with a positive sum, got [${options.exit.weights}]`,
    );
  }
  const terms = readouts.flatMap((logits, d) =>
    raw[d] === 0
      ? []
      : [tf.mul(distillationLoss(logits, teacherLogits, targets, options.distillation), raw[d]! / total)],
  );
  return tf.addN(terms) as tf.Scalar;
}
