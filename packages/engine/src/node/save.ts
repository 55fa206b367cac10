import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors, type SafetensorsWriteEntry } from '@recur/checkpoint';
import type { ConvertedModel } from '../convert.js';
import { hfConfigJson } from '../recurConfig.js';
import { json, tokenizerFiles, writeAtomic } from './files.js';

/**
 * Writes a converted model as a HF-style folder: model.safetensors (shared weights stored once, LoRA
 * beside them), config.json with its `recur` section, and the tokenizer. Each file is written to a
 * temporary name, synced, then renamed, so a crash never leaves a half-written file behind.
 */
export async function saveConvertedModel(model: ConvertedModel, dir: string): Promise<{ bytes: number }> {
  await mkdir(dir, { recursive: true });
  const entries: SafetensorsWriteEntry[] = [];
  for (const [name, tensor] of [...model.decoder.weights, ...model.lora.tensors]) {
    entries.push({ name, shape: tensor.shape, dtype: 'F32', data: (await tensor.data()) as Float32Array });
  }
  const weights = writeSafetensors(entries, { format: 'pt', producer: 'recur' });
  await writeAtomic(join(dir, 'model.safetensors'), weights);
  await writeAtomic(join(dir, 'config.json'), json(hfConfigJson(model.config, model.recur)));
  for (const [name, content] of Object.entries(await tokenizerFiles(model.source.path))) await writeAtomic(join(dir, name), content);
  return { bytes: weights.byteLength };
}
