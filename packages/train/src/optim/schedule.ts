import { OptimError } from './errors.js';

/**
 * A learning-rate schedule as plain data (so a checkpoint can store it); `learningRate` reads it.
 * Warmup is linear from peak/warmupSteps at step 0 to peak at step warmupSteps − 1.
 */
export type LrSchedule =
  | { readonly kind: 'constant'; readonly lr: number }
  | {
      readonly kind: 'cosine';
      readonly peakLr: number;
      readonly warmupSteps: number;
      readonly totalSteps: number;
      /** Final lr as a fraction of peak (default 0.1). */
      readonly minLrRatio?: number;
    }
  | {
      /** Warmup–stable–decay: warm up, hold the peak, then decay over the last `decayFraction` of the steps. */
      readonly kind: 'wsd';
      readonly peakLr: number;
      readonly warmupSteps: number;
      readonly totalSteps: number;
      readonly decayFraction?: number; // default 0.1
      readonly decayShape?: 'linear' | 'cosine'; // default linear
      readonly minLrRatio?: number; // default 0
    };

/** The learning rate at (0-based) `step`; steps past totalSteps stay at the final value. */
export function learningRate(schedule: LrSchedule, step: number): number {
  if (schedule.kind === 'constant') return schedule.lr;
  const { peakLr, warmupSteps, totalSteps } = schedule;
  if (step < warmupSteps) return (peakLr * (step + 1)) / warmupSteps;
  if (schedule.kind === 'cosine') {
    const progress = clamp01((step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
    return decayed(peakLr, schedule.minLrRatio ?? 0.1, progress, 'cosine');
  }
  const decaySteps = Math.round((schedule.decayFraction ?? 0.1) * totalSteps);
  const decayStart = totalSteps - decaySteps;
  if (step < decayStart) return peakLr;
  const progress = clamp01((step - decayStart) / Math.max(1, decaySteps));
  return decayed(peakLr, schedule.minLrRatio ?? 0, progress, schedule.decayShape ?? 'linear');
}

/** Throws OptimError naming the first field that cannot describe a schedule. */
export function validateSchedule(schedule: LrSchedule): void {
  const fields =
    schedule.kind === 'constant'
      ? { lr: schedule.lr }
      : { peakLr: schedule.peakLr, warmupSteps: schedule.warmupSteps, totalSteps: schedule.totalSteps };
  for (const [field, value] of Object.entries(fields)) {
    if (!Number.isFinite(value) || value < 0)
      throw new OptimError(`schedule: ${field} must be a finite number >= 0, got ${value}`);
  }
  if (schedule.kind !== 'constant' && schedule.warmupSteps > schedule.totalSteps) {
    throw new OptimError(`schedule: warmupSteps (${schedule.warmupSteps}) exceeds totalSteps (${schedule.totalSteps})`);
  }
}

/** From peak (progress 0) down to peak·minRatio (progress 1). */
function decayed(peak: number, minRatio: number, progress: number, shape: 'linear' | 'cosine'): number {
  const fraction = shape === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return peak * (minRatio + (1 - minRatio) * fraction);
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
