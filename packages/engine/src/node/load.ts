import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadCheckpoint } from '@recur/checkpoint/node';
import { executionSteps } from '@recur/graph';
import type { DepthwiseLora, DvptModules } from '@recur/lora';
import { withAdapters } from '../adapters.js';
import { withDvptModules } from '../dvpt.js';
import { configSectionsOf, type ConfigSections } from '../configSections.js';
import { buildModel, disposeModel, type BuildOptions, type LoadedModel } from '../model.js';
import { baseFingerprint } from './fingerprint.js';
import { loadPeftAdapter, type AdapterTarget } from './peft.js';
import { loadDvpt } from './dvptFiles.js';

export interface LoadOptions extends Omit<BuildOptions, 'adapter' | 'recur' | 'masa' | 'echo'> {
  /**
   * PEFT LoRA adapter folders (adapter_config.json + adapter_model.safetensors) for any model, plain or
   * converted; with several, their deltas add (see withAdapters). An adapter that does not fit the
   * model, or records another base's fingerprint, is refused.
   */
  readonly adapter?: string | readonly string[];
  /**
   * A DVPT folder (`recur train --trainable dvpt`, RUN/dvpt) run after every step; checked against the
   * base's fingerprint before any `adapter` is added. The model then runs on the tfjs decoder only.
   */
  readonly dvpt?: string;
}

/** Opens a HF folder, a .safetensors file or a .gguf file (a converted Recur model included) and builds the model. */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const checkpoint = await loadCheckpoint(path);
  let model: LoadedModel;
  try {
    const { recur, masa, echo } = await configSections(path);
    const { adapter: _dirs, dvpt: _dvpt, ...build } = options;
    model = await buildModel(checkpoint, {
      ...build,
      ...(recur ? { recur } : {}),
      ...(masa ? { masa } : {}),
      ...(echo ? { echo } : {}),
    });
  } finally {
    await checkpoint.close();
  }
  const dirs =
    options.adapter === undefined ? [] : typeof options.adapter === 'string' ? [options.adapter] : options.adapter;
  const adapters: DepthwiseLora[] = [];
  let dvpt: DvptModules | undefined;
  try {
    if (options.dvpt !== undefined) dvpt = await loadDvpt(options.dvpt, model);
    for (const dir of dirs) adapters.push(await loadPeftAdapter(dir, adapterTarget(model)));
  } catch (error) {
    for (const adapter of adapters) adapter.dispose();
    dvpt?.dispose();
    disposeModel(model);
    throw error;
  }
  const adapted = withAdapters(model, adapters);
  return dvpt ? attachOrDispose(adapted, dvpt) : adapted;
}

/** The model with its DVPT modules; both freed when refused (e.g. a router model). */
function attachOrDispose(model: LoadedModel, dvpt: DvptModules): LoadedModel {
  try {
    return withDvptModules(model, dvpt);
  } catch (error) {
    dvpt.dispose();
    disposeModel(model);
    throw error;
  }
}

/** What a PEFT adapter is checked against and mapped onto: the model's steps and its fingerprint (computed once, if asked). */
export function adapterTarget(model: LoadedModel): AdapterTarget {
  let fingerprint: string | undefined;
  return {
    path: model.source.path,
    config: model.config,
    ...(model.recur && { steps: executionSteps(model.decoder.config) }),
    fingerprint: () => (fingerprint ??= baseFingerprint(model)),
  };
}

/** The `recur`, `masa` and `echo` sections of the config.json that belongs to `path`, if any. */
export async function configSections(path: string): Promise<ConfigSections> {
  if (path.endsWith('.gguf')) return {};
  const folder = (await stat(path)).isDirectory() ? path : dirname(path);
  const file = join(folder, 'config.json');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return {};
  return configSectionsOf(JSON.parse(text), file);
}
