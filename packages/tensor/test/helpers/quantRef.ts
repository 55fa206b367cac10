import { quantizeRowsQ8, type QuantFormat } from '../../src/index.js';

/** A random packed quantized matrix [rows, k] (quants as the kernels read them, f32 block scales). */
export interface PackedMatrix {
  readonly quants: Uint8Array;
  readonly scales: Float32Array;
}

export function randomPacked(rand: () => number, format: QuantFormat, rows: number, k: number): PackedMatrix {
  const n = rows * k;
  const quants = new Uint8Array(format === 'q8_0' ? n : n / 2);
  // q8_0 quants span the whole int8 range, −128 included (a file may hold it); q4_0 any nibble
  for (let i = 0; i < quants.length; i++) quants[i] = Math.floor(rand() * 256);
  const scales = Float32Array.from({ length: n / 32 }, () => 0.001 + 0.02 * rand());
  return { quants, scales };
}

/** Float64 weights of a packed matrix: value = scale · q (q8_0) or scale · (nibble − 8) (q4_0). */
export function dequantizePacked(format: QuantFormat, m: PackedMatrix, rows: number, k: number): Float64Array {
  const out = new Float64Array(rows * k);
  const q8 = new Int8Array(m.quants.buffer, m.quants.byteOffset, m.quants.byteLength);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < k / 32; b++) {
      const scale = m.scales[(r * k) / 32 + b]!;
      const at = r * k + 32 * b;
      for (let j = 0; j < 16; j++) {
        if (format === 'q8_0') {
          out[at + j] = scale * q8[at + j]!;
          out[at + j + 16] = scale * q8[at + j + 16]!;
        } else {
          const byte = m.quants[at / 2 + j]!;
          out[at + j] = scale * ((byte & 15) - 8);
          out[at + j + 16] = scale * ((byte >> 4) - 8);
        }
      }
    }
  }
  return out;
}

/** x [T, k] as the quantized kernels see it: quantized to int8 per 32-block and back, in float64. */
export function roundTripQ8(x: Float32Array, T: number, k: number): Float64Array {
  const f32 = new Float32Array(x.length + (T * k) / 32);
  f32.set(x);
  const i8 = new Int8Array(T * k);
  quantizeRowsQ8(f32, i8, { at: 0, stride: k, k, T }, { at: 0, scalesAt: x.length });
  return Float64Array.from(i8, (q, i) => q * f32[x.length + Math.floor(i / 32)]!);
}

/** y[t, r] = Σ_j w[r, j]·x[t, j] in float64. */
export function refLinear64(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  T: number,
  k: number,
  rows: number,
): Float64Array {
  const y = new Float64Array(T * rows);
  for (let t = 0; t < T; t++)
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += w[r * k + j]! * x[t * k + j]!;
      y[t * rows + r] = s;
    }
  return y;
}
