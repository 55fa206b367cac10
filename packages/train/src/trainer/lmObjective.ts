import { crossEntropy, tf } from '@recur/tensor';
import type { Decoder } from '@recur/graph';
import { distillationLoss, type DistillationOptions } from '../loss/distillation.js';
import type { Objective } from './objective.js';
import { sequenceObjective } from './sequenceObjective.js';

/** Extra loss on the hidden state after each loop (index = loop number), e.g. each loop's exit CE. */
export type PerLoopLoss = (loopStates: readonly tf.Tensor2D[], targets: Int32Array) => tf.Scalar;

export interface LanguageModelObjectiveOptions {
  readonly model: Decoder;
  /** Knowledge distillation from this model's logits (run without gradient): alpha·KD + (1 − alpha)·CE. */
  readonly teacher?: Decoder;
  readonly distillation?: DistillationOptions;
  readonly perLoopLoss?: PerLoopLoss;
}

/**
 * Next-token loss of a decoder (optionally distilled from a teacher), one sequence at a time: see sequenceObjective.
 */
export function languageModelObjective(options: LanguageModelObjectiveOptions): Objective {
  return sequenceObjective((seq, teacherLogits) => sequenceLoss(options, seq, teacherLogits), options.teacher);
}

function sequenceLoss(
  options: LanguageModelObjectiveOptions,
  seq: Int32Array,
  teacherLogits: tf.Tensor2D | undefined,
): tf.Scalar {
  const inputs = seq.subarray(0, seq.length - 1);
  const targets = seq.subarray(1);
  const loopStates: tf.Tensor2D[] = [];
  const onLoopEnd = options.perLoopLoss
    ? (loop: number, h: tf.Tensor2D): void => {
        loopStates[loop] = tf.keep(h);
      }
    : undefined;
  const logits = options.model.forward(inputs, onLoopEnd ? { onLoopEnd } : {}); // [L, V]
  let loss = teacherLogits
    ? distillationLoss(logits, teacherLogits, targets, options.distillation)
    : crossEntropy(logits, targets);
  if (options.perLoopLoss) {
    loss = tf.add(loss, options.perLoopLoss(loopStates, targets));
    tf.dispose(loopStates);
  }
  return loss;
}
