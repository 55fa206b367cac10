export { crossEntropy } from './crossEntropy.js';
export { distillationKl, distillationLoss, type DistillationOptions } from './distillation.js';
export { earlyExitLoss } from './earlyExit.js';
