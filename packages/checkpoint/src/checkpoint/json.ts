import { CheckpointError } from '../errors.js';
import type { ByteSource } from '../bytes/source.js';

/** Reads a whole (small) JSON file: config.json, tokenizer.json, an index. */
export async function readJsonSource(source: ByteSource): Promise<unknown> {
  const bytes = await source.read(0, source.size);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CheckpointError('bad-utf8', source.name, 'is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheckpointError('bad-json', source.name, `is not valid JSON (${(error as Error).message})`);
  }
}
