import { Mulberry32, tf } from '@recur/tensor';
import { registerGradients } from '../autodiff/registerGradients.js';
import type { AdamW } from '../optim/adamw.js';
import { clipByGlobalNorm } from '../optim/clip.js';
import { OptimError } from '../optim/errors.js';
import { learningRate, validateSchedule, type LrSchedule } from '../optim/schedule.js';
import { accumulateGradients } from './accumulate.js';
import { checkFinite } from './diverged.js';
import type { BatchSource } from './batchSource.js';
import type { Objective } from './objective.js';

export interface TrainerOptions {
  /** The trainable parameters by name (the optimizer must hold the same names). */
  readonly params: ReadonlyMap<string, tf.Variable>;
  readonly objective: Objective;
  readonly optimizer: AdamW;
  readonly schedule: LrSchedule;
  readonly source: BatchSource;
  /** Clip the global gradient norm to this (default Infinity: measure, never clip). */
  readonly clipNorm?: number;
  /** Micro-batches (each one `source.next()`) per optimizer step. Default 1. */
  readonly accumulation?: number;
  /** Seed of the RNG handed to the objective. Default 0. */
  readonly seed?: number;
}

export interface StepResult {
  /** Index of the step just taken (0-based). */
  readonly step: number;
  /** Mean loss over the step's micro-batches (before the update). */
  readonly loss: number;
  readonly lr: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  /** Target tokens seen in this step. */
  readonly tokens: number;
}

/** Where a run stands, as plain JSON: restoring it (with weights and moments) continues the run exactly. */
export interface TrainerState {
  readonly step: number;
  readonly rng: number;
  readonly data: unknown;
}

/** Batches in, optimizer steps out: accumulate → clip → AdamW at the scheduled learning rate. */
export class Trainer {
  readonly params: ReadonlyMap<string, tf.Variable>;
  readonly optimizer: AdamW;
  readonly schedule: LrSchedule;
  private readonly options: TrainerOptions;
  private rng: Mulberry32;
  private steps = 0;

  constructor(options: TrainerOptions) {
    validateSchedule(options.schedule);
    const accumulation = options.accumulation ?? 1;
    if (!Number.isInteger(accumulation) || accumulation < 1)
      throw new OptimError(`trainer: accumulation must be a positive integer, got ${accumulation}`);
    const missing = [...options.params.keys()].find((name) => !options.optimizer.names.includes(name));
    if (missing !== undefined) throw new OptimError(`trainer: parameter ${missing} is not held by the optimizer`);
    registerGradients();
    this.options = options;
    this.params = options.params;
    this.optimizer = options.optimizer;
    this.schedule = options.schedule;
    this.rng = new Mulberry32(options.seed ?? 0);
  }

  get step(): number {
    return this.steps;
  }

  /**
   * One optimizer step; frees every tensor it makes (tf.memory().numTensors is unchanged after).
   * Throws TrainingDivergedError, without updating anything, when the loss or gradient norm is not finite.
   */
  trainStep(): StepResult {
    const step = this.steps;
    const lr = learningRate(this.schedule, step);
    const micro = Array.from({ length: this.options.accumulation ?? 1 }, () => this.options.source.next());
    const tokens = micro.reduce((n, batch) => n + batch.reduce((m, seq) => m + seq.length - 1, 0), 0);
    let loss = 0;
    let gradNorm = 0;
    tf.tidy(() => {
      const accumulated = accumulateGradients(this.options.objective, micro, this.params, { step, rng: this.rng });
      const clipped = clipByGlobalNorm(accumulated.grads, this.options.clipNorm ?? Infinity);
      // before the update: a NaN step leaves the weights as they were
      checkFinite(step + 1, accumulated.loss, clipped.norm);
      this.optimizer.apply(clipped.grads, lr);
      tf.dispose([...accumulated.grads.values(), ...clipped.grads.values()]);
      loss = accumulated.loss;
      gradNorm = clipped.norm;
    });
    this.steps += 1;
    return { step, loss, lr, gradNorm, tokens };
  }

  state(): TrainerState {
    return { step: this.steps, rng: this.rng.state, data: this.options.source.state() };
  }

  /** Continues from `state` (weights and moments are restored separately, e.g. by the checkpoint loader). */
  restore(state: TrainerState): void {
    if (!Number.isInteger(state.step) || state.step < 0)
      throw new OptimError(`trainer state: step must be a non-negative integer, got ${state.step}`);
    this.options.source.restore(state.data);
    this.rng = new Mulberry32(state.rng);
    this.steps = state.step;
  }
}
