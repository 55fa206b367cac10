export { distillationKl, distillationLoss, type DistillationOptions } from './distillation.js';
export { intervalDriftSum, refIntervalDriftSum } from './intervalDrift.js';
