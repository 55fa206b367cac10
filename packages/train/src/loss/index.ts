export { crossEntropy } from '@recur/tensor'; // the op lives in tensor, shared with @recur/router
export { distillationKl, distillationLoss, type DistillationOptions } from './distillation.js';
export { earlyExitLoss } from './earlyExit.js';
