import { adapterTrainable } from '../adapterTrainable.js';
import { saveTrainedAdapter } from '../adapterFiles.js';
import type { TrainingMode } from './mode.js';

/** A new LoRA trains on the frozen model (`--lora-rank`); writes it as a PEFT adapter to `<out>/adapter`. */
export const adapterMode: TrainingMode = {
  name: 'adapter',
  chosen: (options) => options.adapter !== undefined,
  trainable: (given) => given ?? 'lora',
  start: (options) => {
    const run = adapterTrainable(options.model, options.adapter!, options.seed ?? 0);
    return {
      ...run,
      save: async (out) => ({
        modelDir: options.model.source.path,
        adapterDir: await saveTrainedAdapter(out, options.model, run.adapter),
      }),
      dispose: () => run.adapter.dispose(),
    };
  },
  output: (result) => ({ label: 'adapter', dir: result.adapterDir ?? '' }),
};
