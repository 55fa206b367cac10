import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openSafetensors, readGguf } from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import { checkOutput, type OutputOptions } from './output.js';

/** The safetensors `__metadata__.producer` every Recur writer sets: the mark of a folder Recur wrote. */
export const PRODUCER = 'recur';
/** The GGUF metadata key Recur's exporter writes: the mark of a .gguf Recur wrote. */
export const GGUF_WRITER_KEY = 'recur.writer';

/**
 * Names a Recur model folder holds (saveModel, exportModel, exportTorch — whose folder Python's import
 * adds __pycache__ to); anything else means someone else's folder.
 */
const MODEL_FOLDER_NAMES = new Set([
  'config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'adapter',
  'modeling_recur.py',
  'sharing_recur.py',
  'uptrain_recur.py',
  '__pycache__',
]);

/** A folder Recur wrote as a model: only model-folder names, and a model.safetensors produced by Recur. */
export async function isRecurModelDir(dir: string): Promise<boolean> {
  const names = (await readdir(dir).catch(() => [])).filter((name) => !name.startsWith('.'));
  if (!names.includes('model.safetensors') || names.some((name) => !MODEL_FOLDER_NAMES.has(name))) return false;
  return readsAs(
    join(dir, 'model.safetensors'),
    async (source) => (await openSafetensors(source)).metadata.producer === PRODUCER,
  );
}

/** A GGUF file Recur's exporter wrote (it carries `recur.writer`). */
export async function isRecurGguf(path: string): Promise<boolean> {
  return readsAs(path, async (source) => (await readGguf(source)).metadata.has(GGUF_WRITER_KEY));
}

/** `test` on the file's bytes; false when it cannot be opened or parsed. */
async function readsAs(
  path: string,
  test: (source: Awaited<ReturnType<typeof openFileSource>>) => Promise<boolean>,
): Promise<boolean> {
  const source = await openFileSource(path).catch(() => undefined);
  if (!source) return false;
  try {
    return await test(source);
  } catch {
    return false;
  } finally {
    await source.close?.();
  }
}

/** The checks a model writer makes, up front (so a command refuses before loading anything). */
export function checkModelOutput(out: string, format: 'folder' | 'gguf', options: OutputOptions): Promise<void> {
  return checkOutput(
    out,
    format === 'gguf'
      ? { kind: 'file', ...options, isOwn: isRecurGguf }
      : { kind: 'dir', ...options, isOwn: isRecurModelDir },
  );
}
