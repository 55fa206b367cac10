import { createHash } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DepthwiseLora, PeftAdapterConfig } from '@recur/lora';
import type { LoadedModel } from '../../model.js';
import { adapterTarget } from '../load.js';
import { loadPeftAdapter } from '../peft.js';
import { CompositionError } from './errors.js';

/** A frozen source adapter of a composition, as the composition records it. */
export interface CompositionPart {
  /** The adapter folder (absolute). */
  readonly path: string;
  /** The `recur_base_fingerprint` it was trained on: the base's. */
  readonly baseFingerprint: string;
  /** sha256 of its adapter_model.safetensors: coefficients only mean something for these exact factors. */
  readonly sha256: string;
}

export interface LoadedPart extends CompositionPart {
  readonly lora: DepthwiseLora;
}

/**
 * Loads the adapters a composition combines, refusing (one line naming the folder) an adapter that
 * records no base fingerprint, one trained on another base (loadPeftAdapter compares fingerprints),
 * one whose file differs from what a saved composition recorded (`expected`), and a folder given twice.
 */
export async function loadParts(
  model: LoadedModel,
  dirs: readonly string[],
  expected?: readonly CompositionPart[],
): Promise<LoadedPart[]> {
  const seen = new Set<string>();
  const loaded: LoadedPart[] = [];
  try {
    for (const [index, dir] of dirs.entries()) {
      const path = resolve(dir);
      const real = await realpath(path).catch(() => path);
      if (seen.has(real)) throw new CompositionError(dir, 'this adapter is named twice in the composition');
      seen.add(real);
      const configFile = join(path, 'adapter_config.json');
      const config = await readConfig(configFile);
      const baseFingerprint = config.recur_base_fingerprint;
      if (!baseFingerprint)
        throw new CompositionError(
          configFile,
          'records no recur_base_fingerprint, so it cannot be checked to belong to this base (adapters from recur train --lora-rank and recur export --lora peft carry one)',
        );
      const sha256 = await fileHash(join(path, 'adapter_model.safetensors'));
      const recorded = expected?.[index];
      if (recorded && recorded.sha256 !== sha256)
        throw new CompositionError(
          join(path, 'adapter_model.safetensors'),
          'changed since the composition was trained (its sha256 differs): its coefficients no longer apply',
        );
      const lora = await loadPeftAdapter(path, adapterTarget(model));
      loaded.push({ path, baseFingerprint, sha256, lora });
    }
  } catch (error) {
    for (const part of loaded) part.lora.dispose();
    throw error;
  }
  return loaded;
}

async function readConfig(file: string): Promise<PeftAdapterConfig> {
  const text = await readFile(file, 'utf8').catch(() => {
    throw new CompositionError(file, 'not found: a composition part must be a PEFT adapter folder');
  });
  try {
    return JSON.parse(text) as PeftAdapterConfig;
  } catch (error) {
    throw new CompositionError(file, `not valid JSON (${(error as Error).message})`);
  }
}

async function fileHash(file: string): Promise<string> {
  const bytes = await readFile(file).catch(() => {
    throw new CompositionError(file, 'not found: a composition part needs its adapter_model.safetensors');
  });
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
