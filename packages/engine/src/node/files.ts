import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ggufTokenizerJson, readGguf } from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';

/** tokenizer.json (+ tokenizer_config.json) of a model: copied from a HF folder, rebuilt from a GGUF vocabulary. */
export async function tokenizerFiles(sourcePath: string): Promise<Record<string, string>> {
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

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Writes to a temporary name, syncs, then renames: a crash never leaves a half-written file. */
export async function writeAtomic(path: string, content: Uint8Array | string): Promise<void> {
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
