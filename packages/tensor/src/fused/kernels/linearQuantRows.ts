import {
  add,
  bump,
  f32Load,
  get,
  hsum,
  i32,
  ins,
  param,
  set,
  v128Load,
  whileLt,
  zeroV,
  Locals,
} from '../../wasm/asm.js';
import { intIns } from '../../wasm/asmInt.js';
import { F32, I32, V128, type Code, type KernelFunction } from '../../wasm/encode.js';
import { storeMaybeAdd } from './linearRows.js';
import { QuantLinearParams, type QuantFormat } from './quantParams.js';

/** Σ of 16 int8 products a·b as i32x4 (two i16 products per lane stay within i16: |a·b| ≤ 128·127). */
const dot16 = (a: Code, b: Code): Code => [
  ...a,
  ...b,
  ...intIns.i16x8ExtmulLowI8x16S,
  ...a,
  ...b,
  ...intIns.i16x8ExtmulHighI8x16S,
  ...intIns.i16x8Add,
  ...intIns.i32x4ExtaddPairwiseI16x8S,
];

/**
 * The quantized GEMV (QuantLinearParams): weight rows as int8 (q8_0) or 4-bit (q4_0) blocks of 32
 * with one f32 scale each, against activation rows quantized to int8 per 32-block (as llama.cpp's
 * vec_dot_q8_0_q8_0 does). Each block is an integer dot product — products widened to i16, pairs
 * summed to i32 — then one f32x4 multiply-add by the two scales, so a weight row is streamed once as
 * 1.125 (q8_0) or 0.625 (q4_0) bytes a weight instead of 4. All T input rows run against a weight row
 * while it sits in L1 (a decode batch); the activations are read from L1/L2 each time.
 */
export function linearQuantRows(format: QuantFormat): KernelFunction {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const v = L.named(I32, 'w', 's', 'x', 'xs', 'y', 'k', 'T', 'ys', 'acc', 'r', 'rowBytes', 'sRow', 't');
  const q = L.named(I32, 'xt', 'xst', 'yp', 'wp', 'sp', 'xp', 'xsp', 'xEnd');
  const { sum, wv, xv0, xv1, low, m15, m8 } = L.named(V128, 'sum', 'wv', 'xv0', 'xv1', 'low', 'm15', 'm8');
  const out = L.add(F32);
  const P = QuantLinearParams;
  const q8 = format === 'q8_0';
  // The block's i32x4 partial sums, on the stack.
  const blockDot: Code = q8
    ? [
        ...get(q.wp),
        ...v128Load(0),
        ...set(wv),
        ...get(q.xp),
        ...v128Load(0),
        ...set(xv0),
        ...dot16(get(wv), get(xv0)),
        ...get(q.wp),
        ...v128Load(16),
        ...set(wv),
        ...get(q.xp),
        ...v128Load(16),
        ...set(xv1),
        ...dot16(get(wv), get(xv1)),
        ...ins.i32x4Add,
      ]
    : [
        ...get(q.wp),
        ...v128Load(0),
        ...set(wv),
        // low nibbles: elements 0..15, high nibbles: 16..31, each q − 8
        ...get(wv),
        ...get(m15),
        ...intIns.v128And,
        ...get(m8),
        ...intIns.i8x16Sub,
        ...set(low),
        ...get(wv),
        ...i32(4),
        ...intIns.i8x16ShrU,
        ...get(m8),
        ...intIns.i8x16Sub,
        ...set(wv),
        ...get(q.xp),
        ...v128Load(0),
        ...set(xv0),
        ...get(q.xp),
        ...v128Load(16),
        ...set(xv1),
        ...dot16(get(low), get(xv0)),
        ...dot16(get(wv), get(xv1)),
        ...ins.i32x4Add,
      ];
  const blockLoop: Code = whileLt(q.xp, q.xEnd, [
    ...get(sum),
    ...blockDot,
    ...intIns.f32x4ConvertI32x4S,
    ...get(q.sp),
    ...f32Load(),
    ...get(q.xsp),
    ...f32Load(),
    ...ins.f32Mul,
    ...ins.f32x4Splat,
    ...ins.f32x4Mul,
    ...ins.f32x4Add,
    ...set(sum),
    ...bump(q.wp, q8 ? 32 : 16),
    ...bump(q.xp, 32),
    ...bump(q.sp, 4),
    ...bump(q.xsp, 4),
  ]);
  const oneInputRow: Code = [
    ...zeroV,
    ...set(sum),
    ...get(v.w),
    ...get(v.r),
    ...get(v.rowBytes),
    ...ins.i32Mul,
    ...ins.i32Add,
    ...set(q.wp),
    ...get(v.s),
    ...get(v.r),
    ...get(v.sRow),
    ...ins.i32Mul,
    ...ins.i32Add,
    ...set(q.sp),
    ...get(q.xt),
    ...set(q.xp),
    ...get(q.xst),
    ...set(q.xsp),
    ...add(q.xt, v.k),
    ...set(q.xEnd),
    ...blockLoop,
    ...hsum(sum),
    ...set(out),
    ...storeMaybeAdd(q.yp, out, v.acc),
    ...add(q.xt, v.k),
    ...set(q.xt),
    ...add(q.xst, v.sRow),
    ...set(q.xst),
    ...add(q.yp, v.ys),
    ...set(q.yp),
    ...bump(v.t, 1),
  ];
  const body: Code = [
    ...param(p, P.W, v.w),
    ...param(p, P.S, v.s),
    ...param(p, P.X, v.x),
    ...param(p, P.XS, v.xs),
    ...param(p, P.Y, v.y),
    ...param(p, P.K, v.k),
    ...param(p, P.T, v.T),
    ...param(p, P.YStride, v.ys),
    ...param(p, P.Accumulate, v.acc),
    ...get(v.k),
    ...i32(q8 ? 0 : 1),
    ...intIns.i32ShrU, // q4_0 rows hold k/2 bytes
    ...set(v.rowBytes),
    ...get(v.k),
    ...i32(3),
    ...intIns.i32ShrU, // k/32 scales of 4 bytes
    ...set(v.sRow),
    ...i32(15),
    ...intIns.i8x16Splat,
    ...set(m15),
    ...i32(8),
    ...intIns.i8x16Splat,
    ...set(m8),
    ...get(r0),
    ...set(v.r),
    ...whileLt(v.r, r1, [
      ...get(v.x),
      ...set(q.xt),
      ...get(v.xs),
      ...set(q.xst),
      ...get(v.y),
      ...get(v.r),
      ...i32(2),
      ...ins.i32Shl,
      ...ins.i32Add,
      ...set(q.yp),
      ...i32(0),
      ...set(v.t),
      ...whileLt(v.t, v.T, oneInputRow),
      ...bump(v.r, 1),
    ]),
  ];
  return { name: q8 ? 'linearQ8Rows' : 'linearQ4Rows', params: 3, locals: L.types, body };
}
