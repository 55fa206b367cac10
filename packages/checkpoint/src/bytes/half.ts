/** IEEE half and bfloat16 ↔ float32 conversion (little-endian uint16 storage). */

let halfTable: Float32Array | undefined;

/** All 65,536 half values decoded once (256 KiB): decoding becomes one lookup per element. */
function table(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) halfTable[h] = halfBitsToFloat(h);
  return halfTable;
}

export function halfBitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // subnormal
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Nearest half (ties to even), as its bit pattern; overflow goes to ±Infinity. */
export function floatToHalfBits(value: number): number {
  const f = Math.fround(value);
  if (Number.isNaN(f)) return 0x7e00;
  const sign = f < 0 || Object.is(f, -0) ? 0x8000 : 0;
  const a = Math.abs(f);
  if (a >= 65520) return sign | 0x7c00; // rounds past the largest half (65504)
  if (a < 2 ** -14) return sign | roundEven(a / 2 ** -24); // subnormal: units of 2^-24
  const exponent = Math.floor(Math.log2(a));
  // log2 can be off by one near powers of two; fix so that 1 ≤ a / 2^e < 2.
  const e = a / 2 ** exponent >= 2 ? exponent + 1 : a / 2 ** exponent < 1 ? exponent - 1 : exponent;
  const mantissa = roundEven((a / 2 ** e - 1) * 1024);
  // A mantissa rounded up to 1024 carries into the exponent, which the addition does for us.
  return sign | (((e + 15) << 10) + mantissa);
}

function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Decodes `count` little-endian halves starting at `bytes[0]`. */
export function decodeF16(bytes: Uint8Array, count: number): Float32Array {
  const lut = table();
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = lut[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  return out;
}

/** bfloat16 is the top half of a float32, so decoding is a shift. */
export function decodeBF16(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < count; i++) bits[i] = (bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16;
  return out;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** Nearest bfloat16 (ties to even), as its bit pattern; NaN stays a quiet NaN. */
export function floatToBF16Bits(value: number): number {
  scratch[0] = value;
  const bits = scratchBits[0]!;
  if (Number.isNaN(scratch[0])) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function encodeF16(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) writeU16(out, 2 * i, floatToHalfBits(values[i]!));
  return out;
}

export function encodeBF16(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  for (let i = 0; i < values.length; i++) writeU16(out, 2 * i, floatToBF16Bits(values[i]!));
  return out;
}

function writeU16(out: Uint8Array, at: number, bits: number): void {
  out[at] = bits & 0xff;
  out[at + 1] = bits >> 8;
}
