import { saveDvpt } from '../../dvptFiles.js';
import { dvptTrainable } from '../dvptTrainable.js';
import type { TrainingMode } from './mode.js';

/** New DVPT modules train on the frozen model (`--trainable dvpt`); writes them to `<out>/dvpt`. */
export const dvptMode: TrainingMode = {
  name: 'dvpt',
  chosen: (options) => options.dvpt !== undefined,
  trainable: () => 'lora', // the modules are what `--trainable dvpt` names
  start: (options) => {
    const run = dvptTrainable(options.model, options.dvpt!, options.seed ?? 0);
    return {
      ...run,
      save: async (out) => ({
        modelDir: options.model.source.path,
        dvptDir: await saveDvpt(out, options.model, run.dvpt),
      }),
      dispose: () => {}, // the modules are the copy's own Variables
    };
  },
  output: (result) => ({ label: 'dvpt', dir: result.dvptDir ?? '' }),
};
