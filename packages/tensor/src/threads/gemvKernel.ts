import { bump, f32Load, f32Store, get, hsum, i32, ins, set, v128Load, whileLt, zeroV } from '../wasm/asm.js';
import { F32, I32, V128, kernelModule, type Code } from '../wasm/encode.js';

/**
 * `gemvRows(w, x, y, rowStart, rowEnd, k)`: y[r] = Σ_j w[r·k + j]·x[j] for r in [rowStart, rowEnd), all
 * float32, `w`, `x`, `y` byte offsets into the shared memory. Rows of an [out, in] weight are
 * contiguous, so a decode-time linear reads the weight once, front to back, and two threads split
 * the rows with no copy. Four SIMD accumulators per row (16 floats per step) keep the adds off the
 * critical path: the loop is limited by memory bandwidth, not by add latency.
 */
export function gemvModuleBytes(): Uint8Array<ArrayBuffer> {
  const [w, x, y, r0, r1, k] = [0, 1, 2, 3, 4, 5];
  const [r, p, j, kb, k16b, k4b] = [6, 7, 8, 9, 10, 11];
  const acc = [12, 13, 14, 15] as const;
  const s = 16;

  const at = (base: number): Code => [...get(base), ...get(j), ...ins.i32Add];
  const fma = (a: number, offset: number): Code => [
    ...get(a), ...at(p), ...v128Load(offset), ...at(x), ...v128Load(offset), ...ins.f32x4Mul, ...ins.f32x4Add, ...set(a),
  ];
  const row: Code = [
    ...get(w), ...get(r), ...get(kb), ...ins.i32Mul, ...ins.i32Add, ...set(p), // p = w + r·k·4
    ...acc.flatMap((a) => [...zeroV, ...set(a)]),
    ...i32(0), ...set(j),
    ...whileLt(j, k16b, [...acc.flatMap((a, i) => fma(a, 16 * i)), ...bump(j, 64)]),
    ...get(acc[0]), ...get(acc[1]), ...ins.f32x4Add, ...get(acc[2]), ...get(acc[3]), ...ins.f32x4Add, ...ins.f32x4Add, ...set(acc[0]),
    ...whileLt(j, k4b, [...fma(acc[0], 0), ...bump(j, 16)]),
    ...hsum(acc[0]), ...set(s),
    ...whileLt(j, kb, [...get(s), ...at(p), ...f32Load(), ...at(x), ...f32Load(), ...ins.f32Mul, ...ins.f32Add, ...set(s), ...bump(j, 4)]),
    ...get(y), ...get(r), ...i32(2), ...ins.i32Shl, ...ins.i32Add, ...get(s), ...f32Store(), // y[r] = s
    ...bump(r, 1),
  ];
  const body: Code = [
    ...get(k), ...i32(2), ...ins.i32Shl, ...set(kb),
    ...get(k), ...i32(~15), ...ins.i32And, ...i32(2), ...ins.i32Shl, ...set(k16b),
    ...get(k), ...i32(~3), ...ins.i32And, ...i32(2), ...ins.i32Shl, ...set(k4b),
    ...get(r0), ...set(r),
    ...whileLt(r, r1, row),
  ];
  return kernelModule([{ name: 'gemvRows', params: 6, locals: [I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, F32], body }], true);
}
