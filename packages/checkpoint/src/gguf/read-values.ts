import { CheckpointError } from '../errors.js';
import type { ByteCursor } from '../bytes/cursor.js';
import {
  ggufValueTypes,
  scalarBytes,
  type GgufMetadataEntry,
  type GgufScalar,
  type GgufScalarType,
  type GgufValueType,
} from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A u64 count that must fit in what is left of the file at `unitBytes` bytes per item. */
export async function readCount(c: ByteCursor, what: string, unitBytes: number): Promise<number> {
  await c.need(8, what);
  const count = c.u64();
  if (count * BigInt(unitBytes) > BigInt(c.remaining)) {
    // A corrupt count and a cut-off file look the same from here; both mean the bytes are not there.
    throw new CheckpointError(
      'truncated',
      c.file,
      `${what} is ${count} but only ${c.remaining} bytes remain (at least ${unitBytes} per item; truncated file or corrupt count)`,
    );
  }
  return Number(count);
}

export async function readString(c: ByteCursor, what: string): Promise<string> {
  const length = await readCount(c, `length of ${what}`, 1);
  await c.need(length, what);
  try {
    return utf8.decode(c.bytes(length));
  } catch {
    throw new CheckpointError('bad-utf8', c.file, `${what} is not valid UTF-8`);
  }
}

async function readType(c: ByteCursor, what: string): Promise<GgufValueType> {
  await c.need(4, what);
  const id = c.u32();
  const type = ggufValueTypes[id];
  if (type === undefined)
    throw new CheckpointError('bad-value-type', c.file, `${what} is ${id}; expected a GGUF value type 0..12`);
  return type;
}

/** Reads one scalar; `need` for its fixed size must already have been called (strings excepted). */
function readFixed(c: ByteCursor, type: Exclude<GgufScalarType, 'string'>): GgufScalar {
  switch (type) {
    case 'uint8':
      return c.u8();
    case 'int8':
      return c.i8();
    case 'uint16':
      return c.u16();
    case 'int16':
      return c.i16();
    case 'uint32':
      return c.u32();
    case 'int32':
      return c.i32();
    case 'float32':
      return c.f32();
    case 'float64':
      return c.f64();
    case 'bool':
      return c.u8() !== 0;
    case 'uint64':
      return narrow(c.u64());
    case 'int64':
      return narrow(c.i64());
  }
}

function narrow(value: bigint): number | bigint {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

async function readScalar(c: ByteCursor, type: GgufScalarType, what: string): Promise<GgufScalar> {
  if (type === 'string') return readString(c, what);
  await c.need(scalarBytes(type), what);
  return readFixed(c, type);
}

async function readArray(c: ByteCursor, what: string): Promise<{ itemType: GgufScalarType; value: GgufScalar[] }> {
  const itemType = await readType(c, `item type of ${what}`);
  if (itemType === 'array')
    throw new CheckpointError(
      'nested-array',
      c.file,
      `${what} is an array of arrays, which GGUF readers do not support`,
    );
  const count = await readCount(c, `length of ${what}`, scalarBytes(itemType));
  const value: GgufScalar[] = new Array<GgufScalar>(count);
  if (itemType === 'string') {
    for (let i = 0; i < count; i++) value[i] = await readString(c, `${what}[${i}]`);
  } else {
    await c.need(count * scalarBytes(itemType), what); // one fetch for the whole numeric array
    for (let i = 0; i < count; i++) value[i] = readFixed(c, itemType);
  }
  return { itemType, value };
}

/** One metadata key-value pair; `index` numbers it for messages. */
export async function readMetadataEntry(c: ByteCursor, index: number): Promise<GgufMetadataEntry> {
  const key = await readString(c, `metadata key #${index}`);
  const what = `metadata "${key}"`;
  const type = await readType(c, `value type of ${what}`);
  if (type !== 'array') return { key, type, value: await readScalar(c, type, what) };
  const { itemType, value } = await readArray(c, what);
  return { key, type, itemType, value };
}
