/** Little-endian float32 bytes ↔ Float32Array, fast on little-endian hosts (all common ones). */

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A fresh Float32Array (never a view into the source bytes, which may be unaligned or reused). */
export function decodeF32(bytes: Uint8Array, count: number): Float32Array {
  if (littleEndianHost) return new Float32Array(bytes.slice(0, count * 4).buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * 4);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

export function encodeF32(values: Float32Array): Uint8Array {
  if (littleEndianHost) return new Uint8Array(values.slice().buffer);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true);
  return out;
}
