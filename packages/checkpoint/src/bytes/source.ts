import { CheckpointError } from '../errors.js';

/**
 * Random-access bytes: a file, a browser File/Blob or an in-memory buffer. Readers only ever ask
 * for ranges, so a multi-GB checkpoint is never held in one buffer.
 */
export interface ByteSource {
  /** Shown in error messages; its last path segment is used to recognise the file. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes starting at `offset`; throws CheckpointError outside [0, size]. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/** Throws unless [offset, offset + length) lies inside a source of `size` bytes. */
export function checkRange(name: string, size: number, offset: number, length: number): void {
  const valid = Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0;
  if (!valid || offset + length > size) {
    throw new CheckpointError(
      'offset-out-of-range',
      name,
      `read of bytes ${offset}..${offset + length} but the file has ${size} bytes`,
    );
  }
}

/** An in-memory source; reads return views (no copy), so callers must not write into them. */
export function bytesSource(bytes: Uint8Array, name: string): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    read: async (offset, length) => {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** A File or Blob (browser or Node ≥ 20): each read slices and loads only that range. */
export function blobSource(blob: Blob, name: string): ByteSource {
  return {
    name,
    size: blob.size,
    read: async (offset, length) => {
      checkRange(name, blob.size, offset, length);
      const buffer = await blob.slice(offset, offset + length).arrayBuffer();
      if (buffer.byteLength !== length) {
        throw new CheckpointError(
          'truncated',
          name,
          `expected ${length} bytes at ${offset}, got ${buffer.byteLength} (file changed while reading?)`,
        );
      }
      return new Uint8Array(buffer);
    },
  };
}

/** The last segment of a path or URL-like name (`a/b/model.safetensors` → `model.safetensors`). */
export function baseName(name: string): string {
  const parts = name.split(/[\\/]/);
  return parts[parts.length - 1] ?? name;
}
