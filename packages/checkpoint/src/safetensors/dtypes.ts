import { decodeBF16, decodeF16 } from '../bytes/half.js';
import { decodeF32 } from '../bytes/f32.js';

/** Bytes per element of every dtype the safetensors format defines (F8 kinds are 1 byte). */
const elementBytes: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
};

export type FloatDtype = 'F32' | 'F16' | 'BF16';

/** Element size, or undefined for a dtype name the format does not define. */
export function dtypeBytes(dtype: string): number | undefined {
  return Object.hasOwn(elementBytes, dtype) ? elementBytes[dtype] : undefined;
}

export function isDecodable(dtype: string): dtype is FloatDtype {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

export function decodeFloats(dtype: FloatDtype, bytes: Uint8Array, count: number): Float32Array {
  if (dtype === 'F32') return decodeF32(bytes, count);
  return dtype === 'F16' ? decodeF16(bytes, count) : decodeBF16(bytes, count);
}
