import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadCheckpoint } from '@recur/checkpoint/node';
import { buildModel, type BuildOptions, type LoadedModel } from '../model.js';
import { checkRouterSection, withRouterDefaults, type RecurSection } from '../recurConfig.js';
import { loadPeftAdapter } from './peft.js';

export interface LoadOptions extends Omit<BuildOptions, 'adapter' | 'recur'> {
  /** A PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) to plug into a plain model. */
  readonly adapter?: string;
}

/** Opens a HF folder, a .safetensors file or a .gguf file (a converted Recur model included) and builds the model. */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const checkpoint = await loadCheckpoint(path);
  try {
    const recur = await recurSection(path);
    const adapter =
      options.adapter === undefined
        ? undefined
        : await loadPeftAdapter(options.adapter, { path, config: checkpoint.config });
    const { adapter: _path, ...build } = options;
    try {
      return await buildModel(checkpoint, { ...build, ...(recur ? { recur } : {}), ...(adapter ? { adapter } : {}) });
    } catch (error) {
      adapter?.dispose();
      throw error;
    }
  } finally {
    await checkpoint.close();
  }
}

/** The `recur` section of the config.json that belongs to `path`, if any. */
export async function recurSection(path: string): Promise<RecurSection | undefined> {
  if (path.endsWith('.gguf')) return undefined;
  const folder = (await stat(path)).isDirectory() ? path : dirname(path);
  const file = join(folder, 'config.json');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const json = JSON.parse(text) as { recur?: RecurSection };
  if (json.recur) checkRouterSection(json.recur, file);
  return json.recur ? withRouterDefaults(json.recur) : undefined;
}
