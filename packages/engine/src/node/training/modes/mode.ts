import type { TrainableSelection } from '@recur/train';
import type { LoadedModel } from '../../../model.js';
import type { TrainableModel } from '../trainable.js';
import type { TrainRunOptions, TrainRunResult } from '../runTypes.js';

/** The folders a finished run names: the trained model's (or the base it applies to) and its own output. */
export type RunOutput = Pick<TrainRunResult, 'modelDir' | 'adapterDir' | 'dvptDir' | 'compositionDir'>;

/** The options that pick a mode (a caller such as `recur train` knows them before the run's other options). */
export type ModeChoice = Pick<TrainRunOptions, 'adapter' | 'dvpt' | 'composition'>;

/** A mode's trainable copy of the model, and what it writes when the run ends. */
export interface ModeRun extends TrainableModel {
  /** Writes the run's result under `out` (`finished`: the trained model, router thresholds calibrated). */
  save(out: string, finished: LoadedModel): Promise<RunOutput>;
  /** Frees what the mode made beside the trainable copy (which `disposeModel` frees). */
  dispose(): void;
}

/**
 * One kind of training run: what trains and what is written. The table of modes (`modes/index.ts`) is
 * the one place a run — `trainModel` and `recur train` — decides which it is.
 */
export interface TrainingMode {
  /** `model` (the model's own weights), `adapter` (a new LoRA), `dvpt` (new DVPT modules), `composition`. */
  readonly name: 'model' | 'adapter' | 'dvpt' | 'composition';
  /** Whether a run's options ask for this mode. */
  chosen(options: ModeChoice): boolean;
  /** Which parameters train: `given` (`--trainable`) where the mode leaves the choice, else its own default. */
  trainable(given: TrainableSelection | undefined, model: LoadedModel, fromScratch: boolean): TrainableSelection;
  /** The trainable copy of `options.model` (refuses a model the mode cannot train, naming it). */
  start(options: TrainRunOptions): ModeRun;
  /** The folder `recur train` names for the result, with its label. */
  output(result: TrainRunResult): { readonly label: string; readonly dir: string };
}
