import { CheckpointError } from '../errors.js';
import { encodeBF16, encodeF16 } from '../bytes/half.js';
import { encodeF32 } from '../bytes/f32.js';
import { elementCount, formatShape } from '../tensor-info.js';
import type { FloatDtype } from './dtypes.js';

export interface SafetensorsWriteEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: FloatDtype;
  readonly data: Float32Array;
}

/**
 * Serialises tensors into one .safetensors file, in the given order with no gaps (the reference
 * implementation rejects gaps). The header is padded with spaces to a multiple of 8 bytes so the
 * data area starts aligned.
 */
export function writeSafetensors(
  entries: readonly SafetensorsWriteEntry[],
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const blobs = entries.map(encodeSafetensorsEntry);
  const layout = safetensorsLayout(entries, metadata);
  const out = new Uint8Array(layout.fileBytes);
  out.set(layout.header, 0);
  let at = layout.header.byteLength;
  for (const blob of blobs) {
    out.set(blob, at);
    at += blob.byteLength;
  }
  return out;
}

/** A tensor as the header lists it: its data is not needed to lay the file out. */
export type SafetensorsSpec = Omit<SafetensorsWriteEntry, 'data'>;

export interface SafetensorsLayout {
  /** The 8-byte length, the JSON header and its padding: the file's first bytes. */
  readonly header: Uint8Array;
  /** Bytes of each tensor's data, in the order given (each follows the one before). */
  readonly sizes: readonly number[];
  readonly fileBytes: number;
}

/** The header of a file of these tensors: sizes follow from shapes and dtypes, so it is written before any data. */
export function safetensorsLayout(
  entries: readonly SafetensorsSpec[],
  metadata?: Readonly<Record<string, string>>,
): SafetensorsLayout {
  // No prototype, so a tensor called "__proto__" is just a key.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const sizes = entries.map((entry) => {
    if (entry.name === '__metadata__' || Object.hasOwn(header, entry.name)) {
      throw new CheckpointError(
        'duplicate-tensor',
        'writeSafetensors',
        `tensor name "${entry.name}" is used twice or reserved`,
      );
    }
    const size = elementCount(entry.shape) * (entry.dtype === 'F32' ? 4 : 2);
    header[entry.name] = { dtype: entry.dtype, shape: [...entry.shape], data_offsets: [offset, offset + size] };
    offset += size;
    return size;
  });
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const bytes = new Uint8Array(8 + padded);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
  bytes.set(json, 8);
  bytes.fill(0x20, 8 + json.byteLength, 8 + padded);
  return { header: bytes, sizes, fileBytes: bytes.byteLength + offset };
}

/** A tensor's data in its dtype, after checking it has as many values as its shape. */
export function encodeSafetensorsEntry(entry: SafetensorsWriteEntry): Uint8Array {
  const valid = entry.shape.every((d) => Number.isSafeInteger(d) && d >= 0);
  if (!valid || elementCount(entry.shape) !== entry.data.length) {
    throw new CheckpointError(
      'size-mismatch',
      'writeSafetensors',
      `tensor "${entry.name}" has shape ${formatShape(entry.shape)} but ${entry.data.length} values`,
    );
  }
  if (entry.dtype === 'F32') return encodeF32(entry.data);
  if (entry.dtype === 'F16') return encodeF16(entry.data);
  if (entry.dtype === 'BF16') return encodeBF16(entry.data);
  throw new CheckpointError(
    'unsupported-dtype',
    'writeSafetensors',
    `tensor "${entry.name}": cannot write dtype ${String(entry.dtype)}`,
  );
}
