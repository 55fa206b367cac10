import { CheckpointError } from '../errors.js';
import { ByteBuilder } from '../bytes/builder.js';
import { elementCount, formatShape } from '../tensor-info.js';
import { encodeGgml, type GgufWriteDtype } from './encode.js';
import {
  ggmlTypeByName,
  ggufValueTypes,
  type GgufMetadataEntry,
  type GgufScalar,
  type GgufScalarType,
} from './types.js';

export interface GgufWriteTensor {
  readonly name: string;
  /** Outermost first, as `readGguf` reports it; written to the file as `ne` (reversed). */
  readonly shape: readonly number[];
  readonly dtype: GgufWriteDtype;
  readonly data: Float32Array;
}

export interface GgufWriteOptions {
  readonly metadata: readonly GgufMetadataEntry[];
  readonly tensors: readonly GgufWriteTensor[];
  /**
   * Data alignment (default: `general.alignment` from metadata, else 32); written as `general.alignment` when not 32.
   */
  readonly alignment?: number;
}

/** Serialises a GGUF v3 file: header, metadata, tensor infos, then aligned tensor data. */
export function writeGguf(options: GgufWriteOptions): Uint8Array {
  const blobs = options.tensors.map(encodeGgufTensor);
  const layout = ggufLayout(options);
  const out = new Uint8Array(layout.fileBytes);
  out.set(layout.header, 0);
  blobs.forEach((blob, i) => out.set(blob, layout.offsets[i]!));
  return out;
}

/** A tensor as the GGUF header lists it: its data is not needed to lay the file out. */
export type GgufTensorSpec = Omit<GgufWriteTensor, 'data'>;

export interface GgufLayout {
  /** Preamble, metadata and tensor infos, padded to the alignment: the file's first bytes. */
  readonly header: Uint8Array;
  /** Absolute file offset of each tensor's data, in the order given. */
  readonly offsets: readonly number[];
  /** Encoded bytes of each tensor. */
  readonly sizes: readonly number[];
  readonly alignment: number;
  /** The whole file: the last tensor ends it (no trailing padding). */
  readonly fileBytes: number;
}

/**
 * Everything about a GGUF file but its tensor data: each tensor's byte size follows from its shape
 * and type, so the header can be written before any tensor is encoded (see `writeGgufFile`).
 */
export function ggufLayout(options: {
  metadata: readonly GgufMetadataEntry[];
  tensors: readonly GgufTensorSpec[];
  alignment?: number;
}): GgufLayout {
  const given = options.metadata.find((e) => e.key === 'general.alignment')?.value;
  const alignment = options.alignment ?? (typeof given === 'number' ? given : 32);
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new CheckpointError('bad-alignment', 'writeGguf', `alignment must be a power of two, got ${alignment}`);
  }
  const metadata = options.metadata.filter((e) => e.key !== 'general.alignment');
  if (alignment !== 32) metadata.push({ key: 'general.alignment', type: 'uint32', value: alignment });
  const sizes = options.tensors.map(encodedBytes);
  const out = new ByteBuilder();
  out.bytes(new TextEncoder().encode('GGUF'));
  out.u32(3);
  out.u64(options.tensors.length);
  out.u64(metadata.length);
  for (const entry of metadata) writeEntry(out, entry);
  let offset = 0;
  const relative = options.tensors.map((tensor, i) => {
    writeString(out, tensor.name);
    out.u32(tensor.shape.length);
    for (const dim of [...tensor.shape].reverse()) out.u64(dim);
    out.u32(ggmlTypeByName(tensor.dtype)!.id);
    out.u64(offset);
    const at = offset;
    offset += Math.ceil(sizes[i]! / alignment) * alignment;
    return at;
  });
  if (options.tensors.length > 0) out.pad(alignment); // the data area starts aligned
  const header = out.finish();
  const offsets = relative.map((at) => header.byteLength + at);
  const last = sizes.length - 1;
  const fileBytes = last < 0 ? header.byteLength : offsets[last]! + sizes[last]!;
  return { header, offsets, sizes, alignment, fileBytes };
}

/** Bytes a tensor takes in its ggml type; refuses rows that are not whole blocks. */
function encodedBytes(tensor: GgufTensorSpec): number {
  const rowLength = tensor.shape[tensor.shape.length - 1] ?? 1;
  const { blockSize, blockBytes } = ggmlTypeByName(tensor.dtype)!;
  if (rowLength % blockSize !== 0) {
    // A block never straddles two rows in ggml, so a row must hold whole blocks.
    throw new CheckpointError(
      'bad-shape',
      'writeGguf',
      `tensor "${tensor.name}": ${tensor.dtype} needs a row length divisible by ${blockSize}, got ${rowLength}`,
    );
  }
  return (elementCount(tensor.shape) / blockSize) * blockBytes;
}

/** A tensor's data in its ggml type, after checking it has as many values as its shape. */
export function encodeGgufTensor(tensor: GgufWriteTensor): Uint8Array {
  if (elementCount(tensor.shape) !== tensor.data.length) {
    throw new CheckpointError(
      'size-mismatch',
      'writeGguf',
      `tensor "${tensor.name}" has shape ${formatShape(tensor.shape)} but ${tensor.data.length} values`,
    );
  }
  encodedBytes(tensor);
  return encodeGgml(tensor.dtype, tensor.data);
}

function writeString(out: ByteBuilder, text: string): void {
  const bytes = new TextEncoder().encode(text);
  out.u64(bytes.byteLength);
  out.bytes(bytes);
}

function writeEntry(out: ByteBuilder, entry: GgufMetadataEntry): void {
  writeString(out, entry.key);
  out.u32(ggufValueTypes.indexOf(entry.type));
  if (entry.type !== 'array') {
    writeScalar(out, entry.type, entry.value as GgufScalar);
    return;
  }
  const itemType = entry.itemType;
  const items = entry.value;
  if (!itemType || !Array.isArray(items)) {
    throw new CheckpointError(
      'bad-value-type',
      'writeGguf',
      `metadata "${entry.key}" is an array but has no itemType or no list value`,
    );
  }
  out.u32(ggufValueTypes.indexOf(itemType));
  out.u64(items.length);
  for (const item of items as readonly GgufScalar[]) writeScalar(out, itemType, item);
}

function writeScalar(out: ByteBuilder, type: GgufScalarType, value: GgufScalar): void {
  const n = (): number => Number(value);
  const write: Record<GgufScalarType, () => void> = {
    string: () => writeString(out, String(value)),
    bool: () => out.u8(value ? 1 : 0),
    uint64: () => out.u64(toBig(value)),
    int64: () => out.i64(toBig(value)),
    uint8: () => out.u8(n()),
    int8: () => out.i8(n()),
    uint16: () => out.u16(n()),
    int16: () => out.i16(n()),
    uint32: () => out.u32(n()),
    int32: () => out.i32(n()),
    float32: () => out.f32(n()),
    float64: () => out.f64(n()),
  };
  write[type]();
}

function toBig(value: GgufScalar): bigint {
  return typeof value === 'bigint' ? value : BigInt(Number(value));
}
