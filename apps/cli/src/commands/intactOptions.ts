import type { Command } from 'commander';
import type { IntactTraining, LoadedModel } from '@recur/engine';
import { intervalsFrom, TrainRunError } from '@recur/engine/node';
import { parseNumber, UsageError } from '../errors.js';

export interface IntactCliOptions {
  readonly intactFrom?: string;
  readonly intactWeight?: string;
  readonly intactWindows: string;
  readonly recordIntervals?: string;
  readonly seq: string;
}

/** train's InTAct flags ("InTAct: Interval-based Task Activation Consolidation for Continual Learning", arXiv 2511.17439). */
export function addIntactOptions(command: Command): Command {
  return command
    .option(
      '--intact-from <run|file>',
      "InTAct: keep the trained projections' function inside an earlier domain's activation intervals — a run folder trained with --record-intervals, or a text file to record them on with the starting model",
    )
    .option('--intact-weight <x>', 'with --intact-from: weight λ of the interval-drift penalty', '1')
    .option('--intact-windows <n>', 'with --intact-from FILE: windows of --seq tokens to record the intervals on', '16')
    .option(
      '--record-intervals <n>',
      "after training, record the trained model's activation intervals on the first n windows of --data into --out/intact/ (for a later --intact-from)",
    );
}

/** The flags checked before anything loads (one-line errors name the flag). */
export function checkIntactFlags(options: IntactCliOptions): void {
  if (options.intactFrom === undefined && options.intactWeight !== '1')
    throw new UsageError('--intact-weight applies only with --intact-from RUN_OR_FILE');
  if (options.intactWeight !== undefined) parseNumber('intact-weight', options.intactWeight, { min: 0 });
  parseNumber('intact-windows', options.intactWindows, { integer: true, min: 1 });
  if (options.recordIntervals !== undefined)
    parseNumber('record-intervals', options.recordIntervals, { integer: true, min: 1 });
}

/** --record-intervals N, or undefined. */
export function recordIntervalWindows(options: IntactCliOptions): number | undefined {
  return options.recordIntervals === undefined
    ? undefined
    : parseNumber('record-intervals', options.recordIntervals, { integer: true, min: 1 });
}

/** The InTAct training of a run (intervals read or recorded with `model`), or undefined without --intact-from. */
export async function intactTraining(
  options: IntactCliOptions,
  model: LoadedModel,
): Promise<IntactTraining | undefined> {
  if (options.intactFrom === undefined) return undefined;
  const weight = parseNumber('intact-weight', options.intactWeight ?? '1', { min: 0 });
  const seqLen = parseNumber('seq', options.seq, { integer: true, min: 2 });
  const windows = parseNumber('intact-windows', options.intactWindows, { integer: true, min: 1 });
  try {
    return { weight, intervals: await intervalsFrom(options.intactFrom, model, { seqLen, windows }) };
  } catch (error) {
    if (error instanceof TrainRunError) throw new UsageError(`--intact-from ${error.message}`);
    throw error;
  }
}
