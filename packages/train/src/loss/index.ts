export { distillationKl, distillationLoss, type DistillationOptions } from './distillation.js';
export { featureDistillationLoss, type FeatureDistillationOptions } from './featureDistillation.js';
export { intervalDriftSum, refIntervalDriftSum } from './intervalDrift.js';
