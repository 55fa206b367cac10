import { readFileSync } from 'node:fs';

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * One F32 tensor from a .safetensors file, for tests (tensor may not depend on @recur/checkpoint).
 * Layout: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
 * then the raw bytes, offsets counted from the header's end.
 */
export function readF32Tensor(url: URL, name: string): { data: Float32Array; shape: number[] } {
  const bytes = readFileSync(url);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, HeaderEntry>;
  const entry = header[name];
  if (entry?.dtype !== 'F32') throw new Error(`${url.pathname}: no F32 tensor ${name}`);
  const [begin, end] = entry.data_offsets.map((offset) => 8 + headerLength + offset) as [number, number];
  // Copy: the tensor's bytes need not be 4-byte aligned inside the file buffer.
  return { data: new Float32Array(Uint8Array.from(bytes.subarray(begin, end)).buffer), shape: entry.shape };
}
