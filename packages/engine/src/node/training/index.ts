export { trainModel, type MorSettings, type TrainProgress, type TrainRunOptions, type TrainRunResult } from './run.js';
export { scratchModel, type ScratchModelOptions } from './scratch.js';
export { trainingData, type TrainingData, type TrainingDataOptions } from './data.js';
export { heldOutLoss } from './heldOut.js';
export { trainableModel, type TrainableModel } from './trainable.js';
export { adapterTrainable, type AdapterTraining } from './adapterTrainable.js';
export { prepareRunFolder, type RunFolderOptions } from './runFolder.js';
export { TrainRunError } from './errors.js';
export { checkTrainingFits, formatBytes, trainingBytes, trainingMemoryLimit, type TrainingShape } from './limits.js';
export { dvptTrainable, type DvptTraining } from './dvptTrainable.js';
export {
  objectiveModes,
  trainingModeOf,
  trainingModes,
  type ModeChoice,
  type ObjectiveMode,
  type TrainingMode,
} from './modes/index.js';
