import { join } from 'node:path';
import { tf } from '@recur/tensor';
import { loadLatestCheckpoint, type LoadedCheckpoint } from '@recur/train/node';
import { TrainRunError } from './errors.js';
import type { TrainRunOptions } from './runTypes.js';
import { runRecord, settingsChanges } from './settings.js';

/**
 * Non-trained variables a run changes (the loss-free balancing
 * bias) come back from the checkpoint too, so resume stays exact.
 */
export function restoreFrozenState(
  tensors: ReadonlyMap<string, tf.Tensor>,
  params: ReadonlyMap<string, tf.Variable>,
  loaded: LoadedCheckpoint,
): void {
  for (const [name, t] of tensors) {
    if (!(t instanceof tf.Variable) || params.has(name)) continue;
    const saved = loaded.tensors.get(name);
    if (!saved) throw new TrainRunError(loaded.dir, `the checkpoint has no tensor ${name}`);
    tf.tidy(() => t.assign(tf.tensor(saved.data, t.shape, 'float32')));
  }
}

/** The newest intact checkpoint; the damaged ones it passed over are reported through `warn`. */
export async function resumePoint(checkpoints: string, warn: (message: string) => void): Promise<LoadedCheckpoint> {
  const loaded = await loadLatestCheckpoint(checkpoints);
  if (!loaded) throw new TrainRunError(checkpoints, 'no intact checkpoint to resume from');
  for (const { reason } of loaded.skipped) warn(`skipped damaged checkpoint ${reason}`);
  return loaded;
}

/** Settings that differ from the run's saved ones are refused, or with `allowChanges` reported through `warn`. */
export function checkSettings(
  loaded: LoadedCheckpoint,
  options: TrainRunOptions,
  warn: (message: string) => void,
): void {
  const changes = settingsChanges(loaded.state.options, runRecord(options));
  if (changes.length === 0) return;
  const list = changes.join(', ');
  if (!options.allowChanges) {
    throw new TrainRunError(
      join(loaded.dir, 'state.json'),
      `settings differ from the ones this run was started with: ${list}; resume with the same settings, or pass --allow-changes to go on with the new ones`,
    );
  }
  warn(`resuming with changed settings: ${list}`);
}
