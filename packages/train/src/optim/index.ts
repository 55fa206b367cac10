export { AdamW, decaysByDefault, type AdamWOptions, type AdamWState } from './adamw.js';
export { learningRate, validateSchedule, type LrSchedule } from './schedule.js';
export { clipByGlobalNorm, globalNorm } from './clip.js';
export { OptimError } from './errors.js';
