import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CheckpointError, checkFinite, openSafetensors, writeSafetensors } from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import { executionSteps } from '@recur/graph';
import { checkDvptShape, dvptModuleCount, DvptModules, type DvptShape } from '@recur/lora';
import { tf } from '@recur/tensor';
import type { LoadedModel } from '../model.js';
import { json, writeAtomic } from './files.js';
import { baseFingerprint } from './fingerprint.js';
import { PRODUCER } from './ownOutput.js';

export const DVPT_CONFIG = 'dvpt_config.json';
export const DVPT_WEIGHTS = 'dvpt_model.safetensors';

/** dvpt_config.json: the modules' shape and the base they were trained on (by path and weight fingerprint). */
export interface DvptConfigFile extends DvptShape {
  readonly format: 'recur-dvpt';
  readonly version: 1;
  readonly method: string;
  readonly placement: 'after-step';
  readonly modules: number;
  readonly steps: number;
  readonly hidden_size: number;
  readonly base_model_name_or_path: string;
  readonly recur_base_fingerprint: string;
}

/**
 * Writes trained DVPT modules to `<out>/dvpt` (dvpt_config.json + dvpt_model.safetensors), naming the
 * base by path and fingerprint as PEFT adapters do. Written beside and renamed into place.
 */
export async function saveDvpt(out: string, base: LoadedModel, modules: DvptModules): Promise<string> {
  const config = base.decoder.config;
  const file: DvptConfigFile = {
    format: 'recur-dvpt',
    version: 1,
    method: 'DVPT shared dynamic adapter (Ruan et al. 2023, arXiv 2309.06123), causal: see Recur README',
    ...modules.shape,
    placement: 'after-step',
    modules: dvptModuleCount(modules.shape.share, config),
    steps: executionSteps(config).length,
    hidden_size: config.hiddenSize,
    base_model_name_or_path: resolve(base.source.path),
    recur_base_fingerprint: baseFingerprint(base),
  };
  const entries = [...modules.tensors].map(([name, t]) => ({
    name,
    shape: t.shape,
    dtype: 'F32' as const,
    data: t.dataSync() as Float32Array,
  }));
  const dir = join(out, 'dvpt');
  const temp = join(out, '.dvpt.tmp');
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp);
  await writeAtomic(join(temp, DVPT_WEIGHTS), writeSafetensors(entries, { format: 'pt', producer: PRODUCER }));
  await writeAtomic(join(temp, DVPT_CONFIG), json(file));
  await rm(dir, { recursive: true, force: true });
  await rename(temp, dir);
  return dir;
}

/**
 * Reads a DVPT folder for `model` (the base as loaded, before any --adapter): refused when it is not
 * one, records another base's fingerprint, does not fit the model, or holds non-finite values.
 */
export async function loadDvpt(dir: string, model: LoadedModel): Promise<DvptModules> {
  const configPath = join(dir, DVPT_CONFIG);
  const text = await readFile(configPath, 'utf8').catch(() => {
    throw new CheckpointError('not-found', configPath, `${dir} is not a DVPT folder: no ${DVPT_CONFIG}`);
  });
  const config = parseConfig(configPath, text);
  const actual = baseFingerprint(model);
  if (config.recur_base_fingerprint !== actual)
    throw new CheckpointError(
      'shape-mismatch',
      configPath,
      `the DVPT modules were trained on ${config.base_model_name_or_path} (weights ${short(config.recur_base_fingerprint)}), not on ${model.source.path} (weights ${short(actual)}): modules for another base are refused`,
    );
  const source = await openFileSource(join(dir, DVPT_WEIGHTS));
  const tensors = new Map<string, tf.Tensor>();
  try {
    const file = await openSafetensors(source);
    for (const info of file.tensors) {
      const data = await file.read(info.name);
      checkFinite(source.name, info.name, data, info.shape);
      tensors.set(info.name, tf.tensor(data, [...info.shape], 'float32'));
    }
    const modules = new DvptModules(
      { prompts: config.prompts, bottleneck: config.bottleneck, share: config.share },
      tensors,
    );
    modules.checkFits(model.decoder.config, source.name);
    return modules;
  } catch (error) {
    for (const t of tensors.values()) t.dispose();
    throw error;
  } finally {
    await source.close?.();
  }
}

function parseConfig(path: string, text: string): DvptConfigFile {
  let config: DvptConfigFile;
  try {
    config = JSON.parse(text) as DvptConfigFile;
  } catch (error) {
    throw new CheckpointError('bad-json', path, `${DVPT_CONFIG} is not valid JSON (${(error as Error).message})`);
  }
  if (config.format !== 'recur-dvpt' || config.version !== 1)
    throw new CheckpointError('unknown-format', path, `format is not recur-dvpt version 1`);
  try {
    checkDvptShape(config);
  } catch (error) {
    throw new CheckpointError('bad-metadata', path, (error as Error).message);
  }
  return config;
}

const short = (fingerprint: string | undefined) => (fingerprint ?? '?').slice(0, 19);
