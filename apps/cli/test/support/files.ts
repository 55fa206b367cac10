import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A writable copy of a read-only model folder (from ../shared) in a fresh temporary folder. */
export function copyModel(from: string, prefix = 'recur-model-'): string {
  const dir = join(mkdtempSync(join(tmpdir(), prefix)), 'model');
  cpSync(from, dir, { recursive: true });
  return dir;
}

/** The JSON header of a safetensors file and where its data area starts. */
export function safetensorsHeader(bytes: Uint8Array): {
  header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  dataStart: number;
} {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))), dataStart: 8 + length };
}

/** A safetensors file of F32 tensors, packed in order (enough for hand-made test adapters). */
export function f32Safetensors(tensors: Record<string, { shape: number[]; data: Float32Array }>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, { shape, data }] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const { data } of Object.values(tensors)) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

export function editJson(path: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(path, JSON.stringify(json));
}
