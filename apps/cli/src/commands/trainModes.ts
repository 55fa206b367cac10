import { trainingModeOf, type TrainingMode, type TrainRunOptions } from '@recur/engine/node';
import { UsageError } from '../errors.js';
import { adapterTraining } from './adapterOptions.js';
import { composeTraining } from './composeOptions.js';
import { dvptTraining } from './dvptOptions.js';
import type { TrainCliOptions } from './trainSettings.js';

/**
 * The flags of `recur train`'s training modes (the engine's table, `trainingModes`: a new adapter,
 * DVPT modules, a composition, else the model itself), each parsed and checked by its mode's options
 * module, in this order so the first wrong flag is the one named.
 */
export function modeFlags(options: TrainCliOptions) {
  const dvpt = dvptTraining(options);
  const adapter = adapterTraining(options);
  const compose = composeTraining(options);
  if (adapter?.mos && options.loraLayers !== undefined)
    throw new UsageError(
      '--lora-layers does not apply to a new MoS adapter: its shard pools are shared by every layer',
    );
  return { dvpt, adapter, compose };
}

/** The mode a run is, from its parsed flags (the composition's parts loaded), through the engine's table. */
export function modeOf(
  run: Pick<TrainRunOptions, 'adapter' | 'dvpt'> & { readonly composition?: TrainRunOptions['composition'] },
): TrainingMode {
  return trainingModeOf({
    ...(run.adapter && { adapter: run.adapter }),
    ...(run.dvpt && { dvpt: run.dvpt }),
    ...(run.composition && { composition: run.composition }),
  });
}
