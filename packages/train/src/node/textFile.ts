import { readFile } from 'node:fs/promises';
import { DataError } from '../data/errors.js';
import { decodeTextFile } from '../data/textFile.js';

/** A text file's bytes, or a DataError naming the file when it cannot be read. */
export async function readFileBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    throw new DataError(
      'bad-corpus',
      file,
      `cannot read the text file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

/** Reads a text file by the one rule training and evaluation share (see decodeTextFile). */
export async function readTextFile(file: string, options: { readonly maxBytes?: number } = {}): Promise<string> {
  return decodeTextFile(await readFileBytes(file), file, options.maxBytes);
}
