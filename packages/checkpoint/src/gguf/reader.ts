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
    if (metadata.has(entry.key)) throw new CheckpointError('duplicate-key', c.file, `metadata key "${entry.key}" appears twice`);
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
  if (magic !== 'GGUF') throw new CheckpointError('bad-magic', c.file, `starts with ${JSON.stringify(magic)}; a GGUF file starts with "GGUF"`);
  await c.need(4, 'the GGUF version');
  const version = c.u32();
  if (version !== 2 && version !== 3) throw new CheckpointError('bad-version', c.file, `GGUF version ${version}; only versions 2 and 3 are supported`);
  return version;
}

function readAlignment(file: string, value: GgufValue | undefined): number {
  if (value === undefined) return defaultAlignment;
  const valid = typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 2 ** 30 && (value & (value - 1)) === 0;
  if (!valid) throw new CheckpointError('bad-alignment', file, `general.alignment is ${String(value)}; expected a power of two`);
  return value;
}

function validateLayout(file: string, infos: readonly GgufTensorInfo[], layout: { dataOffset: number; alignment: number; fileSize: number }): void {
  const dataSize = layout.fileSize - layout.dataOffset;
  for (const t of infos) {
    if (t.offset % layout.alignment !== 0) {
      throw new CheckpointError('misaligned', file, `tensor "${t.name}" starts at data offset ${t.offset}, not a multiple of the alignment ${layout.alignment}`);
    }
    if (t.offset + t.byteSize > dataSize) {
      throw new CheckpointError('offset-out-of-range', file, `tensor "${t.name}" spans data bytes ${t.offset}..${t.offset + t.byteSize} but the data area has ${Math.max(0, dataSize)} bytes`);
    }
  }
  const sorted = infos.filter((t) => t.byteSize > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const next = sorted[i]!;
    if (next.offset < prev.offset + prev.byteSize) {
      throw new CheckpointError('overlap', file, `tensors "${prev.name}" and "${next.name}" overlap at data offset ${next.offset}`);
    }
  }
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
    read: async (name) => {
      const info = byName.get(name);
      if (!info) throw new CheckpointError('missing-tensor', source.name, `no tensor named "${name}"`);
      if (!decodableGgmlTypes.has(info.dtype)) {
        throw new CheckpointError('unsupported-dtype', source.name, `tensor "${name}" is ${info.dtype}; only F32, F16, BF16 and Q8_0 can be decoded`);
      }
      const bytes = await source.read(parts.dataOffset + info.offset, info.byteSize);
      return decodeGgml(info.dtype, bytes, info.elements);
    },
    close: async () => {
      await source.close?.();
    },
  };
}
