import { baseName } from '../bytes/source.js';

/**
 * Context length where a file declares none: transformers' LlamaConfig default. A GGUF without
 * `llama.context_length` gets the same, so both formats agree on what "absent" means.
 */
export const defaultContextLength = 2048;

/**
 * Where a checkpoint's context length came from, for `inspect`: the file's own field, or the default and
 * the field that was missing (the value is then `defaultContextLength`). (The two files of one model may
 * genuinely differ: stories260K's GGUF declares 2048, its converted config.json 512; each reports its own.)
 */
export function contextSource(file: string, field: string, declared: boolean): string {
  const name = baseName(file);
  return declared ? `${field} in ${name}` : `default: ${name} declares no ${field}`;
}
