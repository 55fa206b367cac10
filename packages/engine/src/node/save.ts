import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors, type SafetensorsWriteEntry } from '@recur/checkpoint';
import type { LoadedModel } from '../model.js';
import { hfConfigJson } from '../recurConfig.js';
import { json, tokenizerFiles, writeAtomic } from './files.js';

/**
 * Writes a model as a HF-style folder Recur reloads exactly: model.safetensors (a recursive model's
 * shared weights stored once, its LoRA beside them), config.json (with the `recur` section of a
 * converted model) and the tokenizer. Each file is written to a temporary name, synced, then
 * renamed, so a crash never leaves a half-written file behind.
 */
export async function saveModel(model: LoadedModel, dir: string): Promise<{ bytes: number }> {
  await mkdir(dir, { recursive: true });
  const entries: SafetensorsWriteEntry[] = [];
  for (const [name, tensor] of [...model.decoder.weights, ...(model.lora?.tensors ?? []), ...(model.routerParams ?? [])]) {
    entries.push({ name, shape: tensor.shape, dtype: 'F32', data: (await tensor.data()) as Float32Array });
  }
  const weights = writeSafetensors(entries, { format: 'pt', producer: 'recur' });
  await writeAtomic(join(dir, 'model.safetensors'), weights);
  await writeAtomic(join(dir, 'config.json'), json(hfConfigJson(model.config, model.recur)));
  for (const [name, content] of Object.entries(await tokenizerFiles(model.source.path))) await writeAtomic(join(dir, name), content);
  return { bytes: weights.byteLength };
}

/** A converted model's folder (see `saveModel`). */
export const saveConvertedModel = saveModel;
