import { tf } from '@recur/tensor';
import { TrainRunError } from './errors.js';

/**
 * Refuses to save weights that are not all finite: an update can overflow them (a huge learning
 * rate) while the loss it was taken on was still finite. Checked only where something is written.
 */
export function checkFiniteWeights(params: ReadonlyMap<string, tf.Variable>, step: number, out: string): void {
  for (const [name, variable] of params) {
    const finite = tf.tidy(() => tf.all(tf.isFinite(variable)).dataSync()[0]);
    if (!finite) {
      throw new TrainRunError(
        out,
        `training diverged: after step ${step}: parameter ${name} is not finite (NaN or ±Infinity); nothing of this state was saved, no model was written, the checkpoints saved before it are kept`,
      );
    }
  }
}
