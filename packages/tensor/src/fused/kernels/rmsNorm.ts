import {
  bump,
  f32,
  f32Load,
  get,
  hsum,
  i32,
  i32Load,
  ins,
  param,
  set,
  v128Load,
  v128Store,
  whileLt,
  zeroV,
  Locals,
} from '../../wasm/asm.js';
import { I32, V128, type Code, type KernelFunction } from '../../wasm/encode.js';
import { NormParams } from './params.js';

/** RMSNorm per row, four lanes at a time (float32 sum of squares in four lanes). */
export function rmsNorm(): KernelFunction {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const { r, xp, op, w, nb, j } = L.named(I32, 'r', 'xp', 'op', 'w', 'nb', 'j');
  const { ss, v, sc } = L.named(V128, 'ss', 'v', 'sc');
  const P = NormParams;
  const rowPtr = (base: number, stride: number): Code => [
    ...get(p),
    ...i32Load(4 * base),
    ...get(r),
    ...get(p),
    ...i32Load(4 * stride),
    ...ins.i32Mul,
    ...ins.i32Add,
  ];
  const body: Code = [
    ...param(p, P.W, w),
    ...get(p),
    ...i32Load(4 * P.N),
    ...i32(2),
    ...ins.i32Shl,
    ...set(nb),
    ...get(r0),
    ...set(r),
    ...whileLt(r, r1, [
      ...rowPtr(P.X, P.XStride),
      ...set(xp),
      ...rowPtr(P.Out, P.OutStride),
      ...set(op),
      ...zeroV,
      ...set(ss),
      ...i32(0),
      ...set(j),
      ...whileLt(j, nb, [
        ...get(xp),
        ...get(j),
        ...ins.i32Add,
        ...v128Load(),
        ...set(v),
        ...get(ss),
        ...get(v),
        ...get(v),
        ...ins.f32x4Mul,
        ...ins.f32x4Add,
        ...set(ss),
        ...bump(j, 16),
      ]),
      // scale = 1 / sqrt(Σ / n + eps)
      ...f32(1),
      ...hsum(ss),
      ...get(p),
      ...i32Load(4 * P.N),
      ...ins.f32ConvertI32U,
      ...ins.f32Div,
      ...get(p),
      ...f32Load(4 * P.Eps),
      ...ins.f32Add,
      ...ins.f32Sqrt,
      ...ins.f32Div,
      ...ins.f32x4Splat,
      ...set(sc),
      ...i32(0),
      ...set(j),
      ...whileLt(j, nb, [
        ...get(op),
        ...get(j),
        ...ins.i32Add,
        ...get(xp),
        ...get(j),
        ...ins.i32Add,
        ...v128Load(),
        ...get(sc),
        ...ins.f32x4Mul,
        ...get(w),
        ...get(j),
        ...ins.i32Add,
        ...v128Load(),
        ...ins.f32x4Mul,
        ...v128Store(),
        ...bump(j, 16),
      ]),
      ...bump(r, 1),
    ]),
  ];
  return { name: 'rmsNorm', params: 3, locals: L.types, body };
}
