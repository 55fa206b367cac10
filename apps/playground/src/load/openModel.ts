import { openCheckpoint, type ByteSource } from '@recur/checkpoint';
import { buildModel, configSectionsOf, type ConfigSections, type LoadedModel } from '@recur/engine';
import type { ActiveBackend } from '../backend.js';
import { checkFits } from './limits.js';
import type { ModelFiles } from './sources.js';

/**
 * Opens the files as a checkpoint, checks the model fits the active backend before reading any
 * weights, then builds it. config.json's Recur sections are honoured as `loadModel` honours them in Node:
 * `recur` (a converted model, any LoRA kind: depthwise, mos, hyper, scaled), `masa`, `echo`.
 */
export async function openModel(
  files: ModelFiles,
  backend: ActiveBackend,
  onProgress: (fraction: number) => void,
): Promise<LoadedModel> {
  const sections = await configSections(files.sources);
  const checkpoint = await openCheckpoint(files.sources, { path: files.label });
  try {
    checkFits(checkpoint, backend);
    return await buildModel(checkpoint, {
      onProgress: (done, total) => onProgress(done / total),
      ...sections,
    });
  } finally {
    await checkpoint.close();
  }
}

/** config.json's Recur sections (checked, as in Node), if the files hold one. */
async function configSections(sources: readonly ByteSource[]): Promise<ConfigSections> {
  const config = sources.find((s) => s.name.split('/').pop() === 'config.json');
  if (!config || config.size > 16 * 1024 * 1024) return {};
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(await config.read(0, config.size)));
  } catch {
    return {}; // openCheckpoint reports a broken config.json with its own message
  }
  return configSectionsOf(json, config.name);
}
