import type { Command } from 'commander';
import type { EarlyExitTraining, SelfDistillKind } from '@recur/engine';
import { parseNumber, UsageError } from '../errors.js';

export interface ExitTrainingCliOptions {
  readonly exitLoss?: boolean;
  readonly exitWeights?: string;
  readonly selfDistill?: string;
  readonly selfDistillWeight: string;
  readonly selfDistillTemperature?: string;
}

const selfDistillKinds: readonly SelfDistillKind[] = ['logits', 'features', 'dual'];

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
      '--self-distill <kind>',
      'with --exit-loss: also distil the deepest exit into the earlier ones (teacher behind a stop-gradient): ' +
        'logits (KL), features (MSE of the final-normed states) or dual (both); a number T means logits at T',
    )
    .option('--self-distill-weight <x>', 'weight of the self-distillation term', '1')
    .option('--self-distill-temperature <T>', 'temperature of the logits KL (default 1)');
}

/** The engine's EarlyExitTraining for the flags, or undefined without --exit-loss. */
export function exitTraining(options: ExitTrainingCliOptions): EarlyExitTraining | undefined {
  if (!options.exitLoss) {
    if (options.exitWeights !== undefined || options.selfDistill !== undefined)
      throw new UsageError('--exit-weights and --self-distill apply with --exit-loss only');
    if (options.selfDistillTemperature !== undefined)
      throw new UsageError('--self-distill-temperature applies with --self-distill only');
    return undefined;
  }
  const weights = options.exitWeights
    ?.split(',')
    .map((w, i) => parseNumber(`exit-weights[${i}]`, w.trim(), { min: 0 }));
  if (weights && !weights.some((w) => w > 0)) throw new UsageError('--exit-weights needs at least one positive weight');
  const selfDistill = selfDistillOptions(options);
  return { ...(weights && { weights }), ...(selfDistill && { selfDistill }) };
}

/** `--self-distill KIND` (or the older `--self-distill T`, which meant logits at temperature T). */
function selfDistillOptions(options: ExitTrainingCliOptions): EarlyExitTraining['selfDistill'] {
  const value = options.selfDistill;
  if (value === undefined) {
    if (options.selfDistillTemperature !== undefined)
      throw new UsageError('--self-distill-temperature applies with --self-distill only');
    return undefined;
  }
  const weight = parseNumber('self-distill-weight', options.selfDistillWeight, { min: 0 });
  const legacyTemperature = /^[0-9.eE+-]+$/.test(value.trim());
  if (legacyTemperature) {
    if (options.selfDistillTemperature !== undefined)
      throw new UsageError(
        '--self-distill T already gives the temperature; use --self-distill logits with --self-distill-temperature',
      );
    return { kind: 'logits', weight, temperature: parseNumber('self-distill', value, { min: 1e-6 }) };
  }
  const kind = selfDistillKinds.find((k) => k === value);
  if (!kind)
    throw new UsageError(`--self-distill must be ${selfDistillKinds.join(', ')} or a temperature, got "${value}"`);
  const temperature =
    options.selfDistillTemperature === undefined
      ? 1
      : parseNumber('self-distill-temperature', options.selfDistillTemperature, { min: 1e-6 });
  return { kind, weight, temperature };
}
