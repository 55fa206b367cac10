import { crossEntropy, tf } from '@recur/tensor';
import type { Decoder } from '@recur/graph';
import { distillationLoss, type DistillationOptions } from '../loss/distillation.js';
import type { Objective } from './objective.js';

/** Extra loss on the hidden state after each loop (index = loop number), e.g. `earlyExitLoss`. */
export type PerLoopLoss = (loopStates: readonly tf.Tensor2D[], targets: Int32Array) => tf.Scalar;

export interface LanguageModelObjectiveOptions {
  readonly model: Decoder;
  /** Knowledge distillation from this model's logits (run without gradient): alpha·KD + (1 − alpha)·CE. */
  readonly teacher?: Decoder;
  readonly distillation?: DistillationOptions;
  readonly perLoopLoss?: PerLoopLoss;
}

/**
 * Next-token loss of a decoder on B sequences of L+1 ids: inputs [0..L), targets [1..L]. Runs the
 * decoder once per sequence and averages the per-sequence means (every sequence has L targets, so
 * this is the mean over all B·L tokens). One sequence at a time, because tfjs-wasm's batched matMuls
 * are ~10× slower than its 2-D ones.
 */
export function languageModelObjective(options: LanguageModelObjectiveOptions): Objective {
  const { model, teacher } = options;
  return {
    prepare: teacher ? (batch) => batch.map((seq) => teacher.forward(seq.subarray(0, seq.length - 1))) : undefined,
    loss: (batch, prepared) => {
      const perSequence = batch.map((seq, i) => sequenceLoss(options, seq, prepared[i] as tf.Tensor2D | undefined));
      return tf.div(tf.addN(perSequence), batch.length) as tf.Scalar;
    },
  };
}

function sequenceLoss(options: LanguageModelObjectiveOptions, seq: Int32Array, teacherLogits: tf.Tensor2D | undefined): tf.Scalar {
  const inputs = seq.subarray(0, seq.length - 1);
  const targets = seq.subarray(1);
  const loopStates: tf.Tensor2D[] = [];
  const onLoopEnd = options.perLoopLoss ? (loop: number, h: tf.Tensor2D) => void (loopStates[loop] = tf.keep(h)) : undefined;
  const logits = options.model.forward(inputs, onLoopEnd ? { onLoopEnd } : {}); // [L, V]
  let loss = teacherLogits ? distillationLoss(logits, teacherLogits, targets, options.distillation) : crossEntropy(logits, targets);
  if (options.perLoopLoss) {
    loss = tf.add(loss, options.perLoopLoss(loopStates, targets));
    tf.dispose(loopStates);
  }
  return loss;
}
