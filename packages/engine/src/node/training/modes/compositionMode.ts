import { compositionTrainable } from '../../compose/trainable.js';
import type { TrainingMode } from './mode.js';

/** The coefficients (ScaLearn) or gates combining frozen adapters train (`--compose`); writes `<out>/composition`. */
export const compositionMode: TrainingMode = {
  name: 'composition',
  chosen: (options) => options.composition !== undefined,
  trainable: (given) => given ?? 'lora',
  start: (options) => {
    const run = compositionTrainable(options.model, options.composition!);
    return {
      ...run,
      save: async (out) => ({ modelDir: options.model.source.path, compositionDir: await run.save(out) }),
      dispose: () => run.dispose(),
    };
  },
  output: (result) => ({ label: 'composition', dir: result.compositionDir ?? '' }),
};
