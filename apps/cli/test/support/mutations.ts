/** Seeded mutations of a real checkpoint for the CLI fuzz test (fuzz.test.ts states the rule they serve). */

import { Mulberry32 } from '@recur/tensor';

export type Random = () => number;

/** mulberry32 (the project's seeded RNG): every case is reproducible from its seed. */
export function prng(seed: number): Random {
  const random = new Mulberry32(seed);
  return () => random.next();
}

export const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
export const int = (random: Random, n: number): number => Math.floor(random() * n);

/** Flips one bit of one byte in [from, to). */
export function flipByte(bytes: Uint8Array, random: Random, from: number, to: number): Uint8Array {
  const out = bytes.slice();
  const at = from + int(random, to - from);
  out[at] = out[at]! ^ (1 << int(random, 8));
  return out;
}

/**
 * Writes NaN over one float32, or flips the top exponent bit of one whose |w| is in [2^-64, 1)
 * (so it becomes ≥ 2^64). Both must be refused; a finite value change would be a legitimately
 * different model, so none is generated.
 */
export function poisonFloat(
  bytes: Uint8Array,
  random: Random,
  dataStart: number,
  dataEnd: number,
  kind: 'nan' | 'exponent',
): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const count = Math.floor((dataEnd - dataStart) / 4);
  for (let tries = 0; tries < 1000; tries++) {
    const at = dataStart + 4 * int(random, count);
    const bits = view.getUint32(at, true);
    const exponent = (bits >>> 23) & 0xff;
    if (kind === 'nan') {
      view.setUint32(at, 0x7fc00000, true);
      return out;
    }
    if (exponent >= 127 - 64 && exponent < 127) {
      view.setUint32(at, bits ^ (1 << 30), true);
      return out;
    }
  }
  throw new Error('poisonFloat: no float in range');
}

/** Safetensors: the header object, and a file rebuilt around an edited header (same data area). */
export function safetensorsParts(bytes: Uint8Array): {
  header: Record<string, Record<string, unknown>>;
  dataStart: number;
} {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))), dataStart: 8 + length };
}

export function withHeader(bytes: Uint8Array, header: unknown): Uint8Array {
  const { dataStart } = safetensorsParts(bytes);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + bytes.byteLength - dataStart);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(bytes.subarray(dataStart), 8 + json.byteLength);
  return out;
}

export function addToHeaderLength(bytes: Uint8Array, delta: number): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  view.setBigUint64(0, view.getBigUint64(0, true) + BigInt(delta), true);
  return out;
}

/** GGUF layout, parsed just far enough to aim mutations: tensor-info region, data area, u32 metadata values. */
export interface GgufLayout {
  readonly infoStart: number;
  readonly infoEnd: number;
  readonly dataStart: number;
  /** Offset of each tensor's u32 type field. */
  readonly typeFields: readonly number[];
}

export function ggufLayout(bytes: Uint8Array): GgufLayout {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const tensorCount = Number(view.getBigUint64(8, true));
  const first = new TextEncoder().encode('token_embd.weight');
  const infoStart = indexOf(bytes, first) - 8;
  let at = infoStart;
  const typeFields: number[] = [];
  for (let i = 0; i < tensorCount; i++) {
    at += 8 + Number(view.getBigUint64(at, true));
    const dims = view.getUint32(at, true);
    at += 4 + 8 * dims;
    typeFields.push(at);
    at += 4 + 8;
  }
  return { infoStart, infoEnd: at, dataStart: Math.ceil(at / 32) * 32, typeFields };
}

/** Offset of the u32 value of a uint32 metadata key. */
export function ggufU32Field(bytes: Uint8Array, key: string): number {
  const at = indexOf(bytes, new TextEncoder().encode(key));
  return at + key.length + 4; // after the key bytes and the u32 value type
}

function indexOf(bytes: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('ggufLayout: marker not found');
}
