import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { baseName, type ByteSource } from '../bytes/source.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import { openCheckpoint } from '../checkpoint/open.js';
import { selectCheckpointFiles, type CheckpointFiles } from '../checkpoint/select.js';
import { fileError, openFileSource } from './file-source.js';

/** Files beside a weights file that complete a Hugging Face checkpoint. */
const companions = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];

/**
 * Opens a checkpoint from disk: a `.gguf` file, a `.safetensors` file (with config.json and
 * tokenizer files beside it), a `*.safetensors.index.json`, or a Hugging Face folder.
 */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    throw fileError(path, error);
  }
  const names = isDirectory ? await folderFiles(path) : await fileWithCompanions(path);
  const selection = selectCheckpointFiles(names, path);
  const sources: ByteSource[] = [];
  try {
    for (const name of filesToOpen(selection)) sources.push(await openFileSource(name));
  } catch (error) {
    await Promise.all(sources.map((s) => s.close?.()));
    throw error;
  }
  return openCheckpoint(sources, { path });
}

async function folderFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true }).catch((error: unknown) => {
    throw fileError(folder, error);
  });
  return entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => join(folder, e.name));
}

async function fileWithCompanions(file: string): Promise<string[]> {
  const base = baseName(file);
  if (base.endsWith('.gguf')) return [file];
  if (!base.endsWith('.safetensors') && !base.endsWith('.safetensors.index.json')) {
    throw new CheckpointError(
      'unknown-format',
      file,
      'expected a .gguf, .safetensors or .safetensors.index.json file, or a model folder',
    );
  }
  const siblings = await folderFiles(dirname(file));
  const wanted = (name: string): boolean =>
    companions.includes(baseName(name)) || (base.endsWith('.index.json') && name.endsWith('.safetensors'));
  return [file, ...siblings.filter(wanted)];
}

function filesToOpen(selection: CheckpointFiles): string[] {
  if (selection.format === 'gguf') return [selection.model];
  const { config, index, weights, tokenizer, tokenizerConfig } = selection;
  return [
    config,
    ...(index ? [index] : []),
    ...weights,
    ...(tokenizer ? [tokenizer] : []),
    ...(tokenizerConfig ? [tokenizerConfig] : []),
  ];
}
