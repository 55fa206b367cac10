import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, checkFinite, openSafetensors, type ModelConfig } from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import { fromPeftAdapter, type DepthwiseLora, type PeftAdapterConfig } from '@recur/lora';
import { checkAdapterBase, checkAdapterFits } from './adapterFit.js';

/**
 * Reads a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) as depth-wise
 * LoRA over a plain model. Given the model, refuses an adapter that does not fit it (see adapterFit.ts);
 * factors holding NaN, ±Infinity or |w| ≥ 2^64 are refused like model weights.
 */
export async function loadPeftAdapter(
  dir: string,
  model?: { readonly path: string; readonly config: ModelConfig },
): Promise<DepthwiseLora> {
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
    if (model) checkAdapterFits(source.name, new Map(file.tensors.map((t) => [t.name, t])), model.config);
    if (model) await checkAdapterBase(configPath, config.base_model_name_or_path, model);
    for (const info of file.tensors) {
      const data = await file.read(info.name);
      checkFinite(source.name, info.name, data, info.shape);
      tensors.set(info.name, { data, shape: info.shape });
    }
    return fromPeftAdapter({ config, tensors });
  } finally {
    await source.close?.();
  }
}

function parseConfig(path: string, text: string): PeftAdapterConfig {
  try {
    return JSON.parse(text) as PeftAdapterConfig;
  } catch (error) {
    throw new CheckpointError('bad-json', path, `adapter_config.json is not valid JSON (${(error as Error).message})`);
  }
}
