import { CheckpointError } from '../errors.js';
import { ByteCursor } from '../bytes/cursor.js';
import type { ByteSource } from '../bytes/source.js';
import type { TensorStore } from '../tensor-info.js';
import { decodableGgmlTypes, decodeGgml } from './decode.js';
import { readCount, readMetadataEntry } from './read-values.js';
import { readTensorInfos, type GgufTensorInfo } from './tensor-infos.js';
import type { GgufMetadataEntry, GgufValue } from './types.js';

export type GgufMetadata = ReadonlyMap<string, GgufValue>;

export interface GgufFile extends TensorStore {
  readonly version: number;
  readonly alignment: number;
  /** Absolute file offset of the tensor data area. */
  readonly dataOffset: number;
  readonly metadata: GgufMetadata;
  /** The same metadata with stored types, in file order (what `writeGguf` takes). */
  readonly entries: readonly GgufMetadataEntry[];
  /** Tensor infos with GGUF names and both `ne` (innermost first) and `shape` (outermost first). */
  readonly ggufTensors: readonly GgufTensorInfo[];
  /** A tensor's stored bytes and ggml type, undecoded. */
  readRaw(name: string): Promise<{ readonly dtype: string; readonly bytes: Uint8Array }>;
}

const defaultAlignment = 32;

/**
 * Reads a GGUF v2/v3 header through the source in growing chunks, validating every count against
 * the bytes left before allocating for it. Tensors keep their GGUF names; `read` decodes one.
 */
export async function readGguf(source: ByteSource): Promise<GgufFile> {
  const c = new ByteCursor(source);
  const version = await readPreamble(c);
  const tensorCount = await readCount(c, 'tensor count', 24); // name length, n_dims, type, offset
  const kvCount = await readCount(c, 'metadata count', 13); // key length, type, ≥ 1 value byte
  const entries: GgufMetadataEntry[] = [];
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const entry = await readMetadataEntry(c, i);
    if (metadata.has(entry.key))
      throw new CheckpointError('duplicate-key', c.file, `metadata key "${entry.key}" appears twice`);
    metadata.set(entry.key, entry.value);
    entries.push(entry);
  }
  const alignment = readAlignment(c.file, metadata.get('general.alignment'));
  const infos = await readTensorInfos(c, tensorCount);
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  validateLayout(c.file, infos, { dataOffset, alignment, fileSize: source.size });
  return ggufStore(source, { version, alignment, dataOffset, metadata, entries, infos });
}

async function readPreamble(c: ByteCursor): Promise<number> {
  await c.need(4, 'the GGUF magic');
  const magic = String.fromCharCode(...c.bytes(4));
  if (magic !== 'GGUF')
    throw new CheckpointError(
      'bad-magic',
      c.file,
      `starts with ${JSON.stringify(magic)}; a GGUF file starts with "GGUF"`,
    );
  await c.need(4, 'the GGUF version');
  const version = c.u32();
  if (version !== 2 && version !== 3)
    throw new CheckpointError('bad-version', c.file, `GGUF version ${version}; only versions 2 and 3 are supported`);
  return version;
}

function readAlignment(file: string, value: GgufValue | undefined): number {
  if (value === undefined) return defaultAlignment;
  const valid =
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value > 0 &&
    value <= 2 ** 30 &&
    (value & (value - 1)) === 0;
  if (!valid)
    throw new CheckpointError('bad-alignment', file, `general.alignment is ${String(value)}; expected a power of two`);
  return value;
}

/**
 * The tensors must tile the data area in the order they are listed, each starting at the aligned
 * end of the one before (llama.cpp refuses any other layout), and the data must end with the last
 * one. So a type or shape edit that changes a tensor's byte size is refused, not read as garbage.
 */
function validateLayout(
  file: string,
  infos: readonly GgufTensorInfo[],
  layout: { dataOffset: number; alignment: number; fileSize: number },
): void {
  const dataSize = Math.max(0, layout.fileSize - layout.dataOffset);
  const padded = (n: number): number => Math.ceil(n / layout.alignment) * layout.alignment;
  let expected = 0;
  let prev: GgufTensorInfo | undefined;
  for (const t of infos) {
    if (t.offset % layout.alignment !== 0) {
      throw new CheckpointError(
        'misaligned',
        file,
        `tensor "${t.name}" starts at data offset ${t.offset}, not a multiple of the alignment ${layout.alignment}`,
      );
    }
    if (t.offset !== expected) throw misplaced(file, t, prev, expected);
    expected = padded(t.offset + t.byteSize);
    prev = t;
  }
  if (prev && prev.offset + prev.byteSize > dataSize) {
    throw new CheckpointError(
      'offset-out-of-range',
      file,
      `tensor "${prev.name}" spans data bytes ${prev.offset}..${prev.offset + prev.byteSize} but the data area has ${dataSize} bytes`,
    );
  }
  if (prev && dataSize > expected) {
    throw new CheckpointError(
      'trailing-data',
      file,
      `${dataSize - expected} bytes after the last tensor "${prev.name}" (data ends at ${expected} with padding): a tensor's type or shape does not match its data`,
    );
  }
}

function misplaced(
  file: string,
  t: GgufTensorInfo,
  prev: GgufTensorInfo | undefined,
  expected: number,
): CheckpointError {
  if (!prev)
    return new CheckpointError('gap', file, `the first tensor "${t.name}" starts at data offset ${t.offset}, not 0`);
  const ends = `"${prev.name}" ends at ${prev.offset + prev.byteSize} (${expected} with padding)`;
  if (t.offset < expected)
    return new CheckpointError(
      'overlap',
      file,
      `tensors "${prev.name}" and "${t.name}" overlap: "${t.name}" starts at data offset ${t.offset} but ${ends}`,
    );
  return new CheckpointError(
    'gap',
    file,
    `tensor "${t.name}" starts at data offset ${t.offset} but ${ends}: a tensor's type or shape does not match its data`,
  );
}

interface GgufParts {
  version: number;
  alignment: number;
  dataOffset: number;
  metadata: GgufMetadata;
  entries: readonly GgufMetadataEntry[];
  infos: readonly GgufTensorInfo[];
}

function ggufStore(source: ByteSource, parts: GgufParts): GgufFile {
  const byName = new Map(parts.infos.map((t) => [t.name, t]));
  return {
    file: source.name,
    version: parts.version,
    alignment: parts.alignment,
    dataOffset: parts.dataOffset,
    metadata: parts.metadata,
    entries: parts.entries,
    ggufTensors: parts.infos,
    tensors: parts.infos.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype })),
    has: (name) => byName.has(name),
    readRaw: async (name) => {
      const info = byName.get(name);
      if (!info) throw new CheckpointError('missing-tensor', source.name, `no tensor named "${name}"`);
      return { dtype: info.dtype, bytes: await source.read(parts.dataOffset + info.offset, info.byteSize) };
    },
    read: async (name) => {
      const info = byName.get(name);
      if (!info) throw new CheckpointError('missing-tensor', source.name, `no tensor named "${name}"`);
      if (!decodableGgmlTypes.has(info.dtype)) {
        throw new CheckpointError(
          'unsupported-dtype',
          source.name,
          `tensor "${name}" is ${info.dtype}; only ${[...decodableGgmlTypes].join(', ')} can be decoded`,
        );
      }
      const bytes = await source.read(parts.dataOffset + info.offset, info.byteSize);
      return decodeGgml(info.dtype, bytes, info.elements, { file: source.name, tensor: name });
    },
    close: async () => {
      await source.close?.();
    },
  };
}
