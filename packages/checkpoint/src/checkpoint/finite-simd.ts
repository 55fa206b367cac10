/**
 * A 140-byte WebAssembly SIMD kernel for finite.ts: `s(0, len)` is 1 when any of the `len / 4`
 * float32s copied to the start of its memory has |bits| ≥ the limit. Scalar JS needs ~3 ns per
 * value here (≈ 20% of loading a 135M model); copying a chunk in and comparing four lanes at a
 * time is ~4× cheaper. Hand-assembled so the package needs no build step or dependency:
 *
 *   loop: acc = i32x4.max_u(acc, v128.and(v128.load(p), 0x7fffffff×4)); p += 16; br_if p < end
 *   return v128.any_true(i32x4.ge_u(acc, limit×4))
 */

/** Bytes scanned per call; the kernel's memory holds one chunk. */
export const simdChunkBytes = 1 << 18;

export type SimdScan = (bytes: Uint8Array) => boolean;

/** A scanner for `limitBits`, or undefined where WebAssembly SIMD is unavailable. */
export function simdScanner(limitBits: number): SimdScan | undefined {
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(kernel(limitBits)));
    const memory = instance.exports.m as WebAssembly.Memory;
    const scan = instance.exports.s as (ptr: number, end: number) => number;
    const heap = new Uint8Array(memory.buffer);
    // Caller passes at most simdChunkBytes, a positive multiple of 16.
    return (bytes) => {
      heap.set(bytes);
      return scan(0, bytes.byteLength) !== 0;
    };
  } catch {
    return undefined;
  }
}

function kernel(limitBits: number): Uint8Array<ArrayBuffer> {
  const body = [
    1,
    1,
    0x7b, // one v128 local: acc
    0x03,
    0x40, // loop
    0x20,
    0x02,
    0x20,
    0x00,
    0xfd,
    0x00,
    0x04,
    0x00, // acc, v128.load(p)
    0xfd,
    0x0c,
    ...splat(0x7fffffff),
    0xfd,
    0x4e, // v128.and with the sign mask
    0xfd,
    0xb9,
    0x01,
    0x21,
    0x02, // acc = i32x4.max_u(…)
    0x20,
    0x00,
    0x41,
    0x10,
    0x6a,
    0x22,
    0x00, // p += 16
    0x20,
    0x01,
    0x49,
    0x0d,
    0x00, // br_if p < end
    0x0b,
    0x20,
    0x02,
    0xfd,
    0x0c,
    ...splat(limitBits),
    0xfd,
    0x40, // i32x4.ge_u(acc, limit)
    0xfd,
    0x53,
    0x0b, // v128.any_true
  ];
  const pages = simdChunkBytes / 65536;
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 1, 0x7f]), // (i32, i32) → i32
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, pages]),
    ...section(7, [2, 1, 0x6d, 0x02, 0x00, 1, 0x73, 0x00, 0x00]), // exports m (memory), s (func)
    ...section(10, [1, ...leb128(body.length), ...body]),
  ]);
}

function splat(value: number): number[] {
  const lane = [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
  return [...lane, ...lane, ...lane, ...lane];
}

function section(id: number, bytes: readonly number[]): number[] {
  return [id, ...leb128(bytes.length), ...bytes];
}

function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}
