import { decodeBF16, decodeF16, halfBitsToFloat } from '../bytes/half.js';
import { decodeF32 } from '../bytes/f32.js';

/** ggml types this package can turn into float32. */
export const decodableGgmlTypes: ReadonlySet<string> = new Set(['F32', 'F16', 'BF16', 'Q8_0']);

/** Decodes `count` elements of a ggml type; the caller has checked the type is decodable. */
export function decodeGgml(typeName: string, bytes: Uint8Array, count: number): Float32Array {
  switch (typeName) {
    case 'F32': return decodeF32(bytes, count);
    case 'F16': return decodeF16(bytes, count);
    case 'BF16': return decodeBF16(bytes, count);
    case 'Q8_0': return decodeQ8_0(bytes, count);
    default: throw new Error(`decodeGgml: ${typeName} is not decodable`);
  }
}

/** Q8_0: blocks of 32 values, each block = f16 scale d + 32 int8 q; value = d · q. */
function decodeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let block = 0; block * 32 < count; block++) {
    const at = block * 34;
    const d = halfBitsToFloat(bytes[at]! | (bytes[at + 1]! << 8));
    for (let i = 0; i < 32; i++) out[block * 32 + i] = d * q[at + 2 + i]!;
  }
  return out;
}
