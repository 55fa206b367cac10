import type { MorTraining } from '../../../depth/morObjective.js';
import type { TrainRunOptions } from '../runTypes.js';
import type { TrainableModel } from '../trainable.js';
import { adapterMode } from './adapterMode.js';
import { compositionMode } from './compositionMode.js';
import { dvptMode } from './dvptMode.js';
import type { ModeChoice, TrainingMode } from './mode.js';
import { modelMode } from './modelMode.js';
import { objectiveModes, type ObjectiveMode } from './objectives.js';

/**
 * The table of training modes: what trains and what is written. A run is one of the modes it asks for,
 * `model` when it asks for none; asking for two is refused. The objective is chosen apart (router,
 * early exits, plain LM, each with optional distillation; InTAct wraps any of them).
 */
export const trainingModes: readonly TrainingMode[] = [adapterMode, dvptMode, compositionMode, modelMode];

/** The mode a run's options ask for (refusing two at once). */
export function trainingModeOf(options: ModeChoice): TrainingMode {
  const asked = trainingModes.filter((mode) => mode !== modelMode && mode.chosen(options));
  if (asked.length > 1)
    throw new RangeError(`train one of ${asked.map((mode) => mode.name).join(', ')} at a time, not several at once`);
  return asked[0] ?? modelMode;
}

/** The objective a run trains with. */
export function objectiveOf(
  options: TrainRunOptions,
  mor: MorTraining | undefined,
  trained: TrainableModel,
): ObjectiveMode {
  return objectiveModes.find((mode) => mode.chosen(options, mor, trained))!;
}

export { morTraining, objectiveModes, type Evaluate, type ObjectiveMode, type RunObjective } from './objectives.js';
export type { ModeChoice, ModeRun, RunOutput, TrainingMode } from './mode.js';
