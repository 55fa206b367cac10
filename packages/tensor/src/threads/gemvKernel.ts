import {
  bump,
  f32Load,
  f32Store,
  get,
  hsum,
  i32,
  ins,
  Locals,
  param,
  set,
  v128Load,
  whileLt,
  zeroV,
  floatAddr,
} from '../wasm/asm.js';
import { F32, I32, V128, kernelModule, type Code } from '../wasm/encode.js';

/** gemvRows params (i32 at `params + 4·slot`): byte offsets of w, x, y, and k. */
export const GemvParams = { W: 0, X: 1, Y: 2, K: 3, Size: 4 } as const;

/**
 * `gemvRows(params, rowStart, rowEnd)`: y[r] = Σ_j w[r·k + j]·x[j] for r in [rowStart, rowEnd), all
 * float32 (GemvParams). Rows of an [out, in] weight are contiguous, so a decode-time linear reads
 * the weight once, front to back, and threads split the rows with no copy. Four SIMD accumulators
 * per row (16 floats per step) keep the adds off the critical path: the loop is limited by memory
 * bandwidth, not by add latency. Then 4 floats per step, then a scalar tail: any k.
 */
export function gemvModuleBytes(): Uint8Array<ArrayBuffer> {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const { w, x, y, k, r, wr, j, kb, k16b, k4b } = L.named(I32, 'w', 'x', 'y', 'k', 'r', 'wr', 'j', 'kb', 'k16b', 'k4b');
  const acc = Object.values(L.named(V128, 'a0', 'a1', 'a2', 'a3')) as [number, number, number, number];
  const s = L.add(F32);
  const P = GemvParams;

  const at = (base: number): Code => [...get(base), ...get(j), ...ins.i32Add];
  const fma = (a: number, offset: number): Code => [
    ...get(a),
    ...at(wr),
    ...v128Load(offset),
    ...at(x),
    ...v128Load(offset),
    ...ins.f32x4Mul,
    ...ins.f32x4Add,
    ...set(a),
  ];
  const row: Code = [
    ...get(w),
    ...get(r),
    ...get(kb),
    ...ins.i32Mul,
    ...ins.i32Add,
    ...set(wr), // wr = w + r·k·4
    ...acc.flatMap((a) => [...zeroV, ...set(a)]),
    ...i32(0),
    ...set(j),
    ...whileLt(j, k16b, [...acc.flatMap((a, i) => fma(a, 16 * i)), ...bump(j, 64)]),
    ...get(acc[0]),
    ...get(acc[1]),
    ...ins.f32x4Add,
    ...get(acc[2]),
    ...get(acc[3]),
    ...ins.f32x4Add,
    ...ins.f32x4Add,
    ...set(acc[0]),
    ...whileLt(j, k4b, [...fma(acc[0], 0), ...bump(j, 16)]),
    ...hsum(acc[0]),
    ...set(s),
    ...whileLt(j, kb, [
      ...get(s),
      ...at(wr),
      ...f32Load(),
      ...at(x),
      ...f32Load(),
      ...ins.f32Mul,
      ...ins.f32Add,
      ...set(s),
      ...bump(j, 4),
    ]),
    ...floatAddr(y, r),
    ...get(s),
    ...f32Store(), // y[r] = s
    ...bump(r, 1),
  ];
  const body: Code = [
    ...param(p, P.W, w),
    ...param(p, P.X, x),
    ...param(p, P.Y, y),
    ...param(p, P.K, k),
    ...get(k),
    ...i32(2),
    ...ins.i32Shl,
    ...set(kb),
    ...get(k),
    ...i32(~15),
    ...ins.i32And,
    ...i32(2),
    ...ins.i32Shl,
    ...set(k16b),
    ...get(k),
    ...i32(~3),
    ...ins.i32And,
    ...i32(2),
    ...ins.i32Shl,
    ...set(k4b),
    ...get(r0),
    ...set(r),
    ...whileLt(r, r1, row),
  ];
  return kernelModule([{ name: 'gemvRows', params: 3, locals: L.types, body }], true);
}
