import { openCheckpoint, type ByteSource } from '@recur/checkpoint';
import { buildModel, type LoadedModel, type RecurSection } from '@recur/engine';
import type { ActiveBackend } from '../backend.js';
import { checkFits } from './limits.js';
import type { ModelFiles } from './sources.js';

/**
 * Opens the files as a checkpoint, checks the model fits the active backend before reading any
 * weights, then builds it. A converted Recur model's `recur` section (config.json) is honoured.
 */
export async function openModel(
  files: ModelFiles,
  backend: ActiveBackend,
  onProgress: (fraction: number) => void,
): Promise<LoadedModel> {
  const recur = await recurSection(files.sources);
  const checkpoint = await openCheckpoint(files.sources, { path: files.label });
  try {
    checkFits(checkpoint, backend);
    return await buildModel(checkpoint, {
      onProgress: (done, total) => onProgress(done / total),
      ...(recur ? { recur } : {}),
    });
  } finally {
    await checkpoint.close();
  }
}

/** config.json's `recur` section (a model converted by Recur), if the files hold one. */
async function recurSection(sources: readonly ByteSource[]): Promise<RecurSection | undefined> {
  const config = sources.find((s) => s.name.split('/').pop() === 'config.json');
  if (!config || config.size > 16 * 1024 * 1024) return undefined;
  try {
    const json = JSON.parse(new TextDecoder().decode(await config.read(0, config.size))) as { recur?: RecurSection };
    return json.recur;
  } catch {
    return undefined; // openCheckpoint reports a broken config.json with its own message
  }
}
