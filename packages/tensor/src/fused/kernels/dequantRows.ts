import { bump, f32Load, get, i32, ins, param, set, v128Load, v128Store, whileLt, Locals } from '../../wasm/asm.js';
import { intIns } from '../../wasm/asmInt.js';
import { I32, V128, type Code, type KernelFunction } from '../../wasm/encode.js';
import { DequantParams, type QuantFormat } from './quantParams.js';

/** Stores the 16 int8 lanes of v128 local `q`, times the f32x4 splat in local `scale`, as 16 floats at out + at. */
function store16(q: number, scale: number, out: number, at: number): Code {
  const half = (extend: Code, offset: number): Code => [
    ...get(q),
    ...extend,
    ...set(q + 1), // the i16x8 half, in the local after q
    ...[intIns.i32x4ExtendLowI16x8S, intIns.i32x4ExtendHighI16x8S].flatMap((widen, i) => [
      ...get(out),
      ...get(q + 1),
      ...widen,
      ...intIns.f32x4ConvertI32x4S,
      ...get(scale),
      ...ins.f32x4Mul,
      ...v128Store(at + offset + 16 * i),
    ]),
  ];
  return [...half(intIns.i16x8ExtendLowI8x16S, 0), ...half(intIns.i16x8ExtendHighI8x16S, 32)];
}

/**
 * Quantized weight rows back to float32 (DequantParams): the prefill path dequantizes a panel of
 * rows into a small scratch and runs the tiled f32 GEMM on it, so a 64-row chunk pays one dequant
 * per weight instead of one per weight per row.
 */
export function dequantRows(format: QuantFormat): KernelFunction {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const { w, s, k, out, first, r, wp, sp, op, end } = L.named(
    I32,
    'w',
    's',
    'k',
    'out',
    'first',
    'r',
    'wp',
    'sp',
    'op',
    'end',
  );
  const q = L.add(V128);
  L.add(V128); // q + 1: store16's i16 half
  const q2 = L.add(V128);
  L.add(V128);
  const scale = L.add(V128);
  const m15 = L.add(V128);
  const m8 = L.add(V128);
  const q8 = format === 'q8_0';
  const block: Code = q8
    ? [...get(wp), ...v128Load(0), ...set(q), ...get(wp), ...v128Load(16), ...set(q2)]
    : [
        ...[...get(wp), ...v128Load(0), ...get(m15), ...intIns.v128And, ...get(m8), ...intIns.i8x16Sub, ...set(q)],
        ...[...get(wp), ...v128Load(0), ...i32(4), ...intIns.i8x16ShrU, ...get(m8), ...intIns.i8x16Sub, ...set(q2)],
      ];
  const body: Code = [
    ...param(p, DequantParams.W, w),
    ...param(p, DequantParams.S, s),
    ...param(p, DequantParams.K, k),
    ...param(p, DequantParams.Out, out),
    ...param(p, DequantParams.First, first),
    ...i32(15),
    ...intIns.i8x16Splat,
    ...set(m15),
    ...i32(8),
    ...intIns.i8x16Splat,
    ...set(m8),
    ...get(r0),
    ...set(r),
    ...whileLt(r, r1, [
      // wp = w + r·rowBytes, sp = s + r·(k/32)·4, op = out + (r − first)·k·4
      ...[...get(w), ...get(r), ...get(k), ...ins.i32Mul, ...(q8 ? [] : [...i32(1), ...intIns.i32ShrU]), ...ins.i32Add],
      ...set(wp),
      ...[...get(s), ...get(r), ...get(k), ...ins.i32Mul, ...i32(3), ...intIns.i32ShrU, ...ins.i32Add],
      ...set(sp),
      ...[...get(out), ...get(r), ...get(first), ...ins.i32Sub, ...get(k), ...ins.i32Mul, ...i32(2), ...ins.i32Shl],
      ...ins.i32Add,
      ...set(op),
      ...[...get(op), ...get(k), ...i32(2), ...ins.i32Shl, ...ins.i32Add, ...set(end)],
      ...whileLt(op, end, [
        ...get(sp),
        ...f32Load(),
        ...ins.f32x4Splat,
        ...set(scale),
        ...block,
        ...store16(q, scale, op, 0),
        ...store16(q2, scale, op, 64),
        ...bump(wp, q8 ? 32 : 16),
        ...bump(sp, 4),
        ...bump(op, 128),
      ]),
      ...bump(r, 1),
    ]),
  ];
  return { name: q8 ? 'dequantQ8Rows' : 'dequantQ4Rows', params: 3, locals: L.types, body };
}
