import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ggufTokenizerJson, readGguf, writeSafetensors, type SafetensorsWriteEntry } from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import type { ConvertedModel } from '../convert.js';
import { hfConfigJson } from '../recurConfig.js';

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

/** tokenizer.json (+ tokenizer_config.json) of the source: copied from a HF folder, rebuilt from a GGUF vocabulary. */
async function tokenizerFiles(sourcePath: string): Promise<Record<string, string>> {
  if (sourcePath.endsWith('.gguf')) {
    const source = await openFileSource(sourcePath);
    try {
      const { tokenizer, config } = ggufTokenizerJson((await readGguf(source)).metadata, basename(sourcePath));
      return { 'tokenizer.json': json(tokenizer), 'tokenizer_config.json': json(config) };
    } finally {
      await source.close?.();
    }
  }
  const folder = sourcePath.endsWith('.safetensors') ? dirname(sourcePath) : sourcePath;
  const out: Record<string, string> = {};
  for (const name of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    const content = await readFile(join(folder, name), 'utf8').catch(() => undefined);
    if (content !== undefined) out[name] = content;
  }
  return out;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

async function writeAtomic(path: string, content: Uint8Array | string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, path);
}
