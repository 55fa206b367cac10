import type { Command } from 'commander';
import type { EarlyExitTraining } from '@recur/engine';
import { parseNumber, UsageError } from '../errors.js';

export interface ExitTrainingCliOptions {
  readonly exitLoss?: boolean;
  readonly exitWeights?: string;
  readonly selfDistill?: string;
  readonly selfDistillWeight: string;
}

/** Early-exit training flags (Relaxed Recursive Transformers, Bae et al. 2024, §3.4). */
export function addExitTrainingOptions(command: Command): Command {
  return command
    .option(
      '--exit-loss',
      'recursive models: train every loop as an exit (each exit = epilogue + head after that loop), not only the last',
    )
    .option(
      '--exit-weights <list>',
      'with --exit-loss: comma-separated weight per exit, shallowest first (normalised; default all 1)',
    )
    .option(
      '--self-distill <T>',
      'with --exit-loss: also distil the deepest exit into the earlier ones at temperature T (teacher behind a stop-gradient)',
    )
    .option('--self-distill-weight <x>', 'weight of the self-distillation term', '1');
}

/** The engine's EarlyExitTraining for the flags, or undefined without --exit-loss. */
export function exitTraining(options: ExitTrainingCliOptions): EarlyExitTraining | undefined {
  if (!options.exitLoss) {
    if (options.exitWeights !== undefined || options.selfDistill !== undefined)
      throw new UsageError('--exit-weights and --self-distill apply with --exit-loss only');
    return undefined;
  }
  const weights = options.exitWeights
    ?.split(',')
    .map((w, i) => parseNumber(`exit-weights[${i}]`, w.trim(), { min: 0 }));
  if (weights && !weights.some((w) => w > 0)) throw new UsageError('--exit-weights needs at least one positive weight');
  const selfDistill =
    options.selfDistill === undefined
      ? undefined
      : {
          temperature: parseNumber('self-distill', options.selfDistill, { min: 1e-6 }),
          weight: parseNumber('self-distill-weight', options.selfDistillWeight, { min: 0 }),
        };
  return { ...(weights && { weights }), ...(selfDistill && { selfDistill }) };
}
