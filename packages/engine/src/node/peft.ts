import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CheckpointError,
  checkFinite,
  openSafetensors,
  writeSafetensors,
  type ModelConfig,
  type SafetensorsWriteEntry,
} from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import type { LayerCall } from '@recur/graph';
import { fromPeftAdapter, type DepthwiseLora, type PeftAdapter, type PeftAdapterConfig } from '@recur/lora';
import { checkAdapterBase, checkAdapterFits } from './adapterFit.js';
import { json, writeAtomic } from './files.js';
import { PRODUCER } from './ownOutput.js';

/**
 * Reads a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) as depth-wise
 * LoRA over a plain model. Given the model, refuses an adapter that does not fit it (see adapterFit.ts);
 * factors holding NaN, ±Infinity or |w| ≥ 2^64 are refused like model weights.
 */
export async function loadPeftAdapter(dir: string, model?: AdapterTarget): Promise<DepthwiseLora> {
  const configPath = join(dir, 'adapter_config.json');
  const text = await readFile(configPath, 'utf8').catch(() => {
    throw new CheckpointError('not-found', configPath, `${dir} is not a PEFT adapter folder: no adapter_config.json`);
  });
  const config = parseConfig(configPath, text);
  if (config.peft_type !== 'LORA')
    throw new CheckpointError(
      'unknown-format',
      configPath,
      `peft_type is "${config.peft_type}"; only LORA adapters are supported`,
    );
  const source = await openFileSource(join(dir, 'adapter_model.safetensors'));
  try {
    const file = await openSafetensors(source);
    const tensors = new Map<string, { data: Float32Array; shape: readonly number[] }>();
    if (model) {
      const steps = model.steps?.length ?? model.config.numLayers;
      const fitConfig = { ...model.config, numLayers: steps };
      checkAdapterFits(source.name, new Map(file.tensors.map((t) => [t.name, t])), fitConfig);
      if (!model.steps) await checkAdapterBase(configPath, config.base_model_name_or_path, model);
      if (config.recur_base_fingerprint !== undefined && model.fingerprint)
        checkFingerprint(configPath, config, model.path, model.fingerprint());
    }
    for (const info of file.tensors) {
      const data = await file.read(info.name);
      checkFinite(source.name, info.name, data, info.shape);
      tensors.set(info.name, { data, shape: info.shape });
    }
    return fromPeftAdapter({ config, tensors }, model?.steps);
  } finally {
    await source.close?.();
  }
}

/** The model an adapter is loaded for. */
export interface AdapterTarget {
  readonly path: string;
  /** The checkpoint's config (its numLayers: stored layers). */
  readonly config: ModelConfig;
  /** A recursive model's executed steps: PEFT layer i adapts step i (see fromPeftAdapter). */
  readonly steps?: readonly LayerCall[];
  /** The base's fingerprint (computed only when the adapter records one). */
  readonly fingerprint?: () => string;
}

function checkFingerprint(configPath: string, config: PeftAdapterConfig, model: string, actual: string): void {
  const recorded = config.recur_base_fingerprint;
  if (recorded === actual) return;
  throw new CheckpointError(
    'shape-mismatch',
    configPath,
    `the adapter was trained on ${config.base_model_name_or_path} (weights ${short(recorded)}), not on ${model} (weights ${short(actual)}): an adapter for another base is refused`,
  );
}

const short = (fingerprint: string | undefined) => (fingerprint ?? '?').slice(0, 19);

/** Writes adapter_config.json + adapter_model.safetensors into `dir` (an existing folder), each atomically. */
export async function writePeftAdapter(dir: string, adapter: PeftAdapter): Promise<void> {
  const entries: SafetensorsWriteEntry[] = [...adapter.tensors].map(([name, t]) => ({
    name,
    shape: t.shape,
    dtype: 'F32',
    data: t.data,
  }));
  await writeAtomic(
    join(dir, 'adapter_model.safetensors'),
    writeSafetensors(entries, { format: 'pt', producer: PRODUCER }),
  );
  await writeAtomic(join(dir, 'adapter_config.json'), json(adapter.config));
}

function parseConfig(path: string, text: string): PeftAdapterConfig {
  try {
    return JSON.parse(text) as PeftAdapterConfig;
  } catch (error) {
    throw new CheckpointError('bad-json', path, `adapter_config.json is not valid JSON (${(error as Error).message})`);
  }
}
