import { CheckpointError } from '../errors.js';
import { elementCount, formatShape } from '../tensor-info.js';
import { dtypeBytes } from './dtypes.js';

/** One tensor as the header describes it; offsets are relative to the start of the data area. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly entries: readonly SafetensorsEntry[];
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Parses and validates a header (the JSON after the 8-byte length). `dataSize` is the size of
 * the data area that follows it. As the format requires, the tensors tile the data area exactly:
 * no hole, no overlap, nothing after the last one (a header length off by one shifts every
 * tensor and leaves one stray byte, which is how such a file is caught).
 */
export function parseSafetensorsHeader(file: string, bytes: Uint8Array, dataSize: number): SafetensorsHeader {
  const json = parseJsonObject(file, bytes);
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(file, value);
    else entries.push(parseEntry(file, name, value, dataSize));
  }
  checkTiling(file, entries, dataSize);
  return { entries, metadata };
}

function parseJsonObject(file: string, bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CheckpointError('bad-utf8', file, 'the safetensors header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError('bad-json', file, `the safetensors header is not JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(json)) throw new CheckpointError('bad-json', file, 'the safetensors header must be a JSON object');
  return json;
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (!isPlainObject(value))
    throw new CheckpointError('bad-metadata', file, '"__metadata__" must be an object of strings');
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string')
      throw new CheckpointError('bad-metadata', file, `"__metadata__.${key}" must be a string, got ${typeof item}`);
    Object.defineProperty(out, key, { value: item, enumerable: true });
  }
  return out;
}

function parseEntry(file: string, name: string, value: unknown, dataSize: number): SafetensorsEntry {
  const fail = (code: 'bad-header' | 'bad-shape' | 'unknown-dtype', what: string): never => {
    throw new CheckpointError(code, file, `tensor "${name}" ${what}`);
  };
  if (!isPlainObject(value)) return fail('bad-header', 'must be an object with dtype, shape and data_offsets');
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') return fail('bad-header', 'has no string "dtype"');
  const size = dtypeBytes(dtype);
  if (size === undefined) return fail('unknown-dtype', `has unknown dtype "${dtype}"`);
  if (!Array.isArray(shape) || !shape.every(isCount))
    return fail('bad-shape', `shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    return fail(
      'bad-header',
      `data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSize) {
    throw new CheckpointError(
      'offset-out-of-range',
      file,
      `tensor "${name}" spans bytes ${begin}..${end} but the data area has ${dataSize} bytes`,
    );
  }
  const expected = elementCount(shape as number[], dataSize) * size;
  if (expected !== end - begin) {
    throw new CheckpointError(
      'size-mismatch',
      file,
      `tensor "${name}" is ${dtype} ${formatShape(shape as number[])} = ${expected} bytes but its offsets span ${end - begin}`,
    );
  }
  return { name, dtype, shape: [...(shape as number[])], begin, end };
}

function checkTiling(file: string, entries: readonly SafetensorsEntry[], dataSize: number): void {
  // Empty tensors occupy no bytes; parseEntry has already kept their offsets in range.
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  let prev: SafetensorsEntry | undefined;
  for (const next of sorted) {
    const end = prev?.end ?? 0;
    if (prev && next.begin < end) {
      throw new CheckpointError(
        'overlap',
        file,
        `tensors "${prev.name}" (${prev.begin}..${prev.end}) and "${next.name}" (${next.begin}..${next.end}) overlap`,
      );
    }
    if (next.begin > end) {
      const what = prev
        ? `tensor "${prev.name}" ends at byte ${end} but "${next.name}" starts at ${next.begin}`
        : `the first tensor "${next.name}" starts at byte ${next.begin}, not 0`;
      throw new CheckpointError('gap', file, `${what}: the tensors must fill the data area without holes`);
    }
    prev = next;
  }
  const used = prev?.end ?? 0;
  if (used < dataSize) {
    const extra = dataSize - used;
    const last = prev ? `the last tensor "${prev.name}"` : 'the header (which lists no data)';
    throw new CheckpointError(
      'trailing-data',
      file,
      `${extra} byte${extra === 1 ? '' : 's'} after ${last}: the tensors must end where the file does (is the header length wrong?)`,
    );
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
