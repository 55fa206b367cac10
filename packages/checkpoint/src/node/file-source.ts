import { open, type FileHandle } from 'node:fs/promises';
import { CheckpointError } from '../errors.js';
import { checkRange, type ByteSource } from '../bytes/source.js';

/**
 * A file on disk as a ByteSource: positional reads through one FileHandle, so a multi-GB file
 * is read tensor by tensor. Close it (or the checkpoint that owns it) when done; closing twice is fine.
 */
export async function openFileSource(path: string): Promise<ByteSource> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw fileError(path, error);
  }
  const { size } = await handle.stat();
  let closed = false;
  return {
    name: path,
    size,
    read: async (offset, length) => {
      checkRange(path, size, offset, length);
      const buffer = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
        if (bytesRead === 0)
          throw new CheckpointError(
            'truncated',
            path,
            `file ended at ${offset + done} while reading ${length} bytes at ${offset} (changed on disk?)`,
          );
        done += bytesRead;
      }
      return buffer;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/** ENOENT and friends as one-line CheckpointErrors. */
export function fileError(path: string, error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return new CheckpointError('not-found', path, 'no such file or directory');
  if (code === 'EACCES' || code === 'EPERM') return new CheckpointError('not-found', path, 'permission denied');
  if (code === 'EISDIR') return new CheckpointError('unknown-format', path, 'is a directory where a file was expected');
  return error instanceof Error ? error : new Error(String(error));
}
