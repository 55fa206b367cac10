import type { LrSchedule } from '@recur/engine';
import type { TrainRunOptions } from '@recur/engine/node';
import { parseNumber, UsageError } from '../errors.js';
import type { AdapterCliOptions } from './adapterOptions.js';
import type { ComposeCliOptions } from './composeOptions.js';
import type { DvptCliOptions } from './dvptOptions.js';
import type { ExitTrainingCliOptions } from './exitTrainingOptions.js';
import type { IntactCliOptions } from './intactOptions.js';
import type { RouterCliOptions } from './routerOptions.js';
import { parseSeed } from './samplingFlags.js';
import type { ModelOptions } from './shared.js';

/** `recur train`'s flags as commander hands them over. */
export interface TrainCliOptions
  extends ModelOptions,
    RouterCliOptions,
    ExitTrainingCliOptions,
    AdapterCliOptions,
    DvptCliOptions,
    ComposeCliOptions,
    IntactCliOptions {
  readonly data?: string;
  readonly out?: string;
  readonly fromScratch?: boolean;
  readonly config?: string;
  readonly tokenizer?: string;
  readonly vocabSize: string;
  readonly steps: string;
  readonly stopAt?: string;
  readonly batch: string;
  readonly seq: string;
  readonly lr: string;
  readonly schedule: string;
  readonly warmup?: string;
  readonly minLrRatio: string;
  readonly weightDecay: string;
  readonly clip: string;
  readonly accumulate: string;
  readonly trainable?: string;
  readonly loraLayers?: string;
  readonly distill?: boolean;
  readonly teacher?: string;
  readonly kdAlpha: string;
  readonly kdTemperature: string;
  readonly valFraction: string;
  readonly evalEvery: string;
  readonly evalWindows: string;
  readonly saveEvery: string;
  readonly keep: string;
  readonly resume?: boolean;
  readonly allowChanges?: boolean;
  readonly force?: boolean;
  readonly seed: string;
  readonly json?: boolean;
}

/** `--trainable`'s choices besides `dvpt` (a mode of its own). */
export const selections = ['lora', 'shared+lora', 'all'] as const;

/** The run's schedule, sizes and bookkeeping from the flags (one-line errors name the flag). */
export function runSettings(
  options: TrainCliOptions,
): Omit<TrainRunOptions, 'model' | 'teacher' | 'onProgress' | 'trainable'> {
  const int = (name: string, raw: string, min = 1) => parseNumber(name, raw, { integer: true, min });
  const steps = int('steps', options.steps);
  const peakLr = parseNumber('lr', options.lr, { min: 0 });
  const warmupSteps =
    options.warmup === undefined ? Math.min(20, Math.floor(steps / 10)) : int('warmup', options.warmup, 0);
  const minLrRatio = parseNumber('min-lr-ratio', options.minLrRatio, { min: 0, max: 1 });
  const schedules: Record<string, LrSchedule> = {
    cosine: { kind: 'cosine', peakLr, warmupSteps, totalSteps: steps, minLrRatio },
    wsd: { kind: 'wsd', peakLr, warmupSteps, totalSteps: steps, minLrRatio },
    constant: { kind: 'constant', lr: peakLr },
  };
  const schedule = schedules[options.schedule];
  if (!schedule)
    throw new UsageError(`--schedule must be one of ${Object.keys(schedules).join(', ')}, got "${options.schedule}"`);
  const known = [...selections, 'dvpt'];
  if (options.trainable !== undefined && !known.includes(options.trainable)) {
    throw new UsageError(`--trainable must be one of ${known.join(', ')}, got "${options.trainable}"`);
  }
  return {
    textFile: options.data!,
    out: options.out!,
    steps,
    ...(options.stopAt === undefined ? {} : { stopAt: int('stop-at', options.stopAt) }),
    seqLen: int('seq', options.seq, 2),
    batchSize: int('batch', options.batch),
    schedule,
    weightDecay: parseNumber('weight-decay', options.weightDecay, { min: 0 }),
    clipNorm: parseNumber('clip', options.clip, { min: 0 }),
    accumulation: int('accumulate', options.accumulate),
    valFraction: parseNumber('val-fraction', options.valFraction, { min: 0.001, max: 0.9 }),
    evalEvery: int('eval-every', options.evalEvery, 0),
    evalWindows: int('eval-windows', options.evalWindows),
    saveEvery: int('save-every', options.saveEvery, 0),
    keep: int('keep', options.keep),
    resume: options.resume ?? false,
    seed: parseSeed(options.seed),
    allowChanges: options.allowChanges ?? false,
    force: options.force ?? false,
    distillation: {
      alpha: parseNumber('kd-alpha', options.kdAlpha, { min: 0, max: 1 }),
      temperature: parseNumber('kd-temperature', options.kdTemperature, { min: 0.01 }),
    },
  };
}
