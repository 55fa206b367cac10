import { join } from 'node:path';
import { saveModel } from '../../save.js';
import { trainableModel } from '../trainable.js';
import type { TrainingMode } from './mode.js';

/** The model's own weights train (all, shared+lora or lora, narrowed by a filter); writes `<out>/model`. */
export const modelMode: TrainingMode = {
  name: 'model',
  chosen: () => true,
  // a converted model trains its shared block and LoRA; a plain or fresh one every weight
  trainable: (given, model, fromScratch) =>
    given ?? ((model.recur || model.masa) && !fromScratch ? 'shared+lora' : 'all'),
  start: (options) => ({
    ...trainableModel(options.model, options.trainable, options.trainableFilter),
    save: async (out, finished) => {
      const modelDir = join(out, 'model');
      await saveModel(finished, modelDir, { force: true }); // model/ is this run's own output
      return { modelDir };
    },
    dispose: () => {},
  }),
  output: (result) => ({ label: 'model', dir: result.modelDir }),
};
