import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { CheckpointError } from '../errors.js';
import { encodeGgufTensor, ggufLayout, type GgufTensorSpec } from '../gguf/writer.js';
import type { GgufMetadataEntry } from '../gguf/types.js';
import { encodeSafetensorsEntry, safetensorsLayout, type SafetensorsSpec } from '../safetensors/writer.js';

/** A tensor to be written whose values are made only when its turn comes (read, computed, generated). */
export type Deferred<S> = S & { readonly data: () => Float32Array | Promise<Float32Array> };

/**
 * Writes a GGUF file tensor by tensor: the header first (sizes follow from shapes and types), then
 * each tensor's data as `data()` yields it, so only one tensor is ever held. Bytes are the same as
 * `writeGguf`'s. Lands atomically: written to `<path>.tmp-<pid>` and renamed; on failure the
 * temporary is removed and nothing is left at `path`.
 */
export async function writeGgufFile(
  path: string,
  options: { metadata: readonly GgufMetadataEntry[]; tensors: readonly Deferred<GgufTensorSpec>[]; alignment?: number },
): Promise<{ bytes: number }> {
  const layout = ggufLayout(options);
  return streamInto(path, layout.header, layout.fileBytes, async (append) => {
    for (const [i, tensor] of options.tensors.entries()) {
      await append(encodeGgufTensor({ ...tensor, data: await tensor.data() }), layout.offsets[i]!, tensor.name);
    }
  });
}

/** The safetensors twin of `writeGgufFile`: bytes as `writeSafetensors` writes them, one tensor held at a time. */
export async function writeSafetensorsFile(
  path: string,
  entries: readonly Deferred<SafetensorsSpec>[],
  metadata?: Readonly<Record<string, string>>,
): Promise<{ bytes: number }> {
  const layout = safetensorsLayout(entries, metadata);
  let at = layout.header.byteLength;
  return streamInto(path, layout.header, layout.fileBytes, async (append) => {
    for (const [i, entry] of entries.entries()) {
      await append(encodeSafetensorsEntry({ ...entry, data: await entry.data() }), at, entry.name);
      at += layout.sizes[i]!;
    }
  });
}

type Append = (bytes: Uint8Array, offset: number, tensor: string) => Promise<void>;

/** Header, then the body's appends at their planned offsets (zero padding between), fsync, rename. */
async function streamInto(
  path: string,
  header: Uint8Array,
  fileBytes: number,
  body: (append: Append) => Promise<void>,
): Promise<{ bytes: number }> {
  const temporary = `${path}.tmp-${process.pid}`;
  const handle = await open(temporary, 'w');
  let written = 0;
  const write = async (bytes: Uint8Array): Promise<void> => {
    await writeAll(handle, bytes);
    written += bytes.byteLength;
  };
  try {
    await write(header);
    await body(async (bytes, offset, tensor) => {
      if (offset < written) throw misplaced(path, tensor, offset, written);
      if (offset > written) await write(new Uint8Array(offset - written)); // alignment padding
      await write(bytes);
    });
    if (written !== fileBytes) throw misplaced(path, 'end of file', fileBytes, written);
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
  await rename(temporary, path);
  return { bytes: written };
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done);
    done += bytesWritten;
  }
}

function misplaced(path: string, what: string, planned: number, at: number): CheckpointError {
  return new CheckpointError(
    'size-mismatch',
    path,
    `${what} was planned at byte ${planned} but the file is at ${at}: an encoded size differs from the header's`,
  );
}
