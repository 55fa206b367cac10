import {
  add,
  bump,
  f32Load,
  f32Store,
  get,
  hsum,
  i32,
  i32Load,
  ins,
  param,
  set,
  v128Load,
  whileLt,
  zeroV,
  Locals,
  floatAddr,
} from '../../wasm/asm.js';
import { F32, I32, V128, type Code, type KernelFunction } from '../../wasm/encode.js';
import { LinearParams } from './params.js';

/** Stores f32 local `s` at `addr`, adding what is there when local `accumulate` is non-zero. */
export function storeMaybeAdd(addr: number, s: number, accumulate: number): Code {
  return [
    ...get(addr),
    ...get(s),
    ...get(addr),
    ...f32Load(),
    ...ins.f32Add,
    ...get(s),
    ...get(accumulate),
    ...ins.select,
    ...f32Store(),
  ];
}

export function linearRows(): KernelFunction {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const { w, x, y, kb, T, xs, ys, acc, r, wr, t, t4, j, k64, xt, x1, x2, x3, yt, yp } = L.named(
    I32,
    'w',
    'x',
    'y',
    'kb',
    'T',
    'xs',
    'ys',
    'acc',
    'r',
    'wr',
    't',
    't4',
    'j',
    'k64',
    'xt',
    'x1',
    'x2',
    'x3',
    'yt',
    'yp',
  );
  const { a0, a1, a2, a3, wv } = L.named(V128, 'a0', 'a1', 'a2', 'a3', 'wv');
  const s = L.add(F32);
  const a = [a0, a1, a2, a3] as const;
  const P = LinearParams;
  const fma = (accum: number, wExpr: Code, xPtr: number, offset = 0): Code => [
    ...get(accum),
    ...wExpr,
    ...get(xPtr),
    ...get(j),
    ...ins.i32Add,
    ...v128Load(offset),
    ...ins.f32x4Mul,
    ...ins.f32x4Add,
    ...set(accum),
  ];
  const wAt = (offset: number): Code => [...get(wr), ...get(j), ...ins.i32Add, ...v128Load(offset)];
  const out = (value: Code, rowOffsetTimes: number): Code => [
    ...value,
    ...set(s),
    ...get(yt),
    ...get(ys),
    ...i32(rowOffsetTimes),
    ...ins.i32Mul,
    ...ins.i32Add,
    ...set(yp),
    ...storeMaybeAdd(yp, s, acc),
  ];
  // Four x rows share each weight load; the weight row stays in L1 between groups.
  const fourRows: Code = [
    ...add(xt, xs),
    ...set(x1),
    ...add(x1, xs),
    ...set(x2),
    ...add(x2, xs),
    ...set(x3),
    ...a.flatMap((v) => [...zeroV, ...set(v)]),
    ...i32(0),
    ...set(j),
    ...whileLt(j, kb, [
      ...wAt(0),
      ...set(wv),
      ...fma(a0, get(wv), xt),
      ...fma(a1, get(wv), x1),
      ...fma(a2, get(wv), x2),
      ...fma(a3, get(wv), x3),
      ...bump(j, 16),
    ]),
    ...out(hsum(a0), 0),
    ...out(hsum(a1), 1),
    ...out(hsum(a2), 2),
    ...out(hsum(a3), 3),
    ...bump(t, 4),
    ...floatAddr(xt, xs),
    ...set(xt),
    ...floatAddr(yt, ys),
    ...set(yt),
  ];
  // One x row: four accumulators over 16 floats per step keep the adds off the critical path.
  const oneRow: Code = [
    ...a.flatMap((v) => [...zeroV, ...set(v)]),
    ...i32(0),
    ...set(j),
    ...whileLt(j, k64, [...a.flatMap((v, i) => fma(v, wAt(16 * i), xt, 16 * i)), ...bump(j, 64)]),
    ...get(a0),
    ...get(a1),
    ...ins.f32x4Add,
    ...get(a2),
    ...get(a3),
    ...ins.f32x4Add,
    ...ins.f32x4Add,
    ...set(a0),
    ...whileLt(j, kb, [...fma(a0, wAt(0), xt), ...bump(j, 16)]),
    ...out(hsum(a0), 0),
    ...bump(t, 1),
    ...add(xt, xs),
    ...set(xt),
    ...add(yt, ys),
    ...set(yt),
  ];
  const body: Code = [
    ...param(p, P.W, w),
    ...param(p, P.X, x),
    ...param(p, P.Y, y),
    ...param(p, P.T, T),
    ...param(p, P.XStride, xs),
    ...param(p, P.YStride, ys),
    ...param(p, P.Accumulate, acc),
    ...get(p),
    ...i32Load(4 * P.K),
    ...i32(2),
    ...ins.i32Shl,
    ...set(kb),
    ...get(kb),
    ...i32(~63),
    ...ins.i32And,
    ...set(k64),
    ...get(T),
    ...i32(~3),
    ...ins.i32And,
    ...set(t4),
    ...get(r0),
    ...set(r),
    ...whileLt(r, r1, [
      ...get(w),
      ...get(r),
      ...get(kb),
      ...ins.i32Mul,
      ...ins.i32Add,
      ...set(wr),
      ...floatAddr(y, r),
      ...set(yt),
      ...get(x),
      ...set(xt),
      ...i32(0),
      ...set(t),
      ...whileLt(t, t4, fourRows),
      ...whileLt(t, T, oneRow),
      ...bump(r, 1),
    ]),
  ];
  return { name: 'linearRows', params: 3, locals: L.types, body };
}
