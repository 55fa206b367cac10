import { readFileSync } from 'node:fs';

/** A minimal safetensors reader for tests: F32 tensors only, by name. */
export interface SafetensorsFile {
  tensor(name: string): { data: Float32Array; shape: number[] };
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Layout: 8-byte little-endian header length, a JSON header, then the raw tensor bytes. */
export function readSafetensors(url: URL): SafetensorsFile {
  const bytes = readFileSync(url);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, HeaderEntry>;
  const dataStart = 8 + headerLength;
  return {
    tensor(name) {
      const entry = header[name];
      if (!entry || entry.dtype !== 'F32') throw new Error(`${url.pathname}: no F32 tensor ${name}`);
      const [begin, end] = entry.data_offsets;
      const raw = bytes.subarray(dataStart + begin, dataStart + end);
      // Copy: the file buffer's offset need not be 4-byte aligned.
      const data = new Float32Array(Uint8Array.from(raw).buffer);
      return { data, shape: entry.shape };
    },
  };
}

/** One F32 tensor by name (reads the whole file each call: fine for the small test checkpoints). */
export function readF32Tensor(url: URL, name: string): { data: Float32Array; shape: number[] } {
  return readSafetensors(url).tensor(name);
}
