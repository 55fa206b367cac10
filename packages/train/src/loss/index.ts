export { distillationKl, distillationLoss, type DistillationOptions } from './distillation.js';
