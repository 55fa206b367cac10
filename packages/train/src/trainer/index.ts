export type { BatchSource } from './batchSource.js';
export type { Objective, StepContext } from './objective.js';
export { sequenceObjective, type SequenceLoss } from './sequenceObjective.js';
export { languageModelObjective, type LanguageModelObjectiveOptions, type PerLoopLoss } from './lmObjective.js';
export { isTrainable, withVariables, type TrainableSelection } from './trainable.js';
export { accumulateGradients, type Accumulated } from './accumulate.js';
export { Trainer, type StepResult, type TrainerOptions, type TrainerState } from './trainer.js';
export { TrainingDivergedError } from './diverged.js';
export { withPenalty } from './regularized.js';
