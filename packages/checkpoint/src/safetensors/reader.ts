import { CheckpointError } from '../errors.js';
import type { ByteSource } from '../bytes/source.js';
import type { TensorInfo, TensorStore } from '../tensor-info.js';
import { decodeFloats, isDecodable } from './dtypes.js';
import { parseSafetensorsHeader, type SafetensorsEntry } from './header.js';

/** The format's own limit on header size; anything larger is a corrupt length field. */
const maxHeaderBytes = 100 * 1024 * 1024;

export interface SafetensorsFile extends TensorStore {
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Opens a .safetensors file: reads and validates only the header; each `read(name)` then fetches
 * that tensor's byte range. Closing the file closes its source.
 */
export async function openSafetensors(source: ByteSource): Promise<SafetensorsFile> {
  const file = source.name;
  if (source.size < 8)
    throw new CheckpointError(
      'truncated',
      file,
      `${source.size} bytes is too short for a safetensors file (needs an 8-byte header length)`,
    );
  const lengthBytes = await source.read(0, 8);
  const length = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(Math.min(source.size - 8, maxHeaderBytes))) {
    throw new CheckpointError(
      'header-too-long',
      file,
      `header length ${length} exceeds the ${source.size - 8} bytes after the length field`,
    );
  }
  const headerLength = Number(length);
  const header = parseSafetensorsHeader(file, await source.read(8, headerLength), source.size - 8 - headerLength);
  return safetensorsStore(source, 8 + headerLength, header.entries, header.metadata);
}

function safetensorsStore(
  source: ByteSource,
  dataStart: number,
  entries: readonly SafetensorsEntry[],
  metadata: Readonly<Record<string, string>>,
): SafetensorsFile {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const tensors: TensorInfo[] = entries.map(({ name, shape, dtype }) => ({ name, shape, dtype }));
  return {
    file: source.name,
    tensors,
    metadata,
    has: (name) => byName.has(name),
    read: async (name) => {
      const entry = byName.get(name);
      if (!entry) throw new CheckpointError('missing-tensor', source.name, `no tensor named "${name}"`);
      return readEntry(source, dataStart, entry);
    },
    close: async () => {
      await source.close?.();
    },
  };
}

async function readEntry(source: ByteSource, dataStart: number, entry: SafetensorsEntry): Promise<Float32Array> {
  if (!isDecodable(entry.dtype)) {
    throw new CheckpointError(
      'unsupported-dtype',
      source.name,
      `tensor "${entry.name}" is ${entry.dtype}; only F32, F16 and BF16 can be read as floats`,
    );
  }
  const bytes = await source.read(dataStart + entry.begin, entry.end - entry.begin);
  const count = entry.shape.reduce((a, b) => a * b, 1);
  return decodeFloats(entry.dtype, bytes, count);
}
