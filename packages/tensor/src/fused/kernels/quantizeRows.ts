import {
  bump,
  f32Store,
  get,
  i32,
  ifThen,
  ins,
  lane,
  param,
  set,
  shuffle32,
  v128Load,
  v128Store,
  whileLt,
  Locals,
} from '../../wasm/asm.js';
import { intIns } from '../../wasm/asmInt.js';
import { F32, F64, I32, V128, uleb, type Code, type KernelFunction } from '../../wasm/encode.js';
import { QuantizeParams } from './quantParams.js';

const simd = (code: number): Code => [0xfd, ...uleb(code)];
const f64Const = (v: number): Code => [0x44, ...new Uint8Array(new Float64Array([v]).buffer)];
/** Signed LEB128 of a 64-bit constant. */
function i64Const(v: bigint): Code {
  const out: Code = [0x42];
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}
const op = {
  f64Div: [0xa3],
  f64Gt: [0x64],
  f64Ge: [0x66],
  f64Floor: [0x9c],
  f64Min: [0xa4],
  i64ReinterpretF64: [0xbd],
  f64ReinterpretI64: [0xbf],
  i64Add: [0x7c],
  i64And: [0x83],
  i32Store: [0x36, 2, 0],
  f64x2Splat: simd(0x14),
  f64x2Floor: simd(0x75),
  i32x4TruncSatF64x2SZero: simd(0xfc),
  i32x4ExtractLane: (l: number): Code => [...simd(0x1b), l],
} as const;

/**
 * Activation rows → int8 per 32-block in wasm (QuantizeParams), the same numbers as
 * quantizeRowsQ8: d = max|x| / 127 and q = round(x / d) in float64 (half away from zero's
 * JS twin: floor(y + 0.5)), the stored scale d rounded half-up to f16 precision (10 mantissa bits,
 * subnormal below 2^-14, at most 65504). Quants go out as int8, or widened to i16 (`Wide`), and with
 * `Sums` non-zero −2·Σ q per block as an i32 (linearQ4Tiled's correction). Items are rows, so
 * prefill quantizes its activations on every thread instead of in a JS loop on one.
 */
export function quantizeRows(): KernelFunction {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const v = L.named(I32, 'x', 'xs', 'k', 'q', 'wide', 's', 'sums', 't', 'xp', 'qp', 'sp', 'cp', 'end');
  const { amax } = L.named(F32, 'amax');
  const { d, inv } = L.named(F64, 'd', 'inv');
  const { xv, m, invv, half, acc, a, b } = L.named(V128, 'xv', 'm', 'invv', 'half', 'acc', 'a', 'b');
  const h16 = [L.add(V128), L.add(V128), L.add(V128), L.add(V128)];
  const P = QuantizeParams;
  /** Four floats at xp + 16g → i32x4 of round(x·inv) (float64, half up). */
  const four = (g: number): Code => {
    const rounded = (x: Code): Code => [
      ...x,
      ...get(invv),
      ...ins.f64x2Mul,
      ...get(half),
      ...ins.f64x2Add,
      ...op.f64x2Floor,
      ...op.i32x4TruncSatF64x2SZero,
    ];
    return [
      ...get(v.xp),
      ...v128Load(16 * g),
      ...set(xv),
      ...rounded([...get(xv), ...ins.f64x2PromoteLowF32x4]),
      ...rounded([...get(xv), ...get(xv), ...shuffle32([2, 3, 0, 1]), ...ins.f64x2PromoteLowF32x4]),
      ...shuffle32([0, 1, 4, 5]),
      ...set(a),
      ...[...get(acc), ...get(a), ...ins.i32x4Add, ...set(acc)],
    ];
  };
  const f16: Code = [
    // d ≥ 2^-14: the f64's mantissa rounded half-up to 10 bits (a carry moves the exponent on);
    // below, to a multiple of 2^-24 (f16's subnormals)
    ...get(d),
    ...op.i64ReinterpretF64,
    ...i64Const(1n << 41n),
    ...op.i64Add,
    ...i64Const(-(1n << 42n)),
    ...op.i64And,
    ...op.f64ReinterpretI64,
    ...f64Const(65504),
    ...op.f64Min,
    ...[
      ...get(d),
      ...f64Const(2 ** 24),
      ...ins.f64Mul,
      ...f64Const(0.5),
      ...ins.f64Add,
      ...op.f64Floor,
      ...f64Const(2 ** -24),
      ...ins.f64Mul,
    ],
    ...[...get(d), ...f64Const(2 ** -14), ...op.f64Ge],
    ...ins.select,
  ];
  const block: Code = [
    ...[...get(v.xp), ...v128Load(0), ...ins.f32x4Abs, ...set(m)],
    ...[1, 2, 3, 4, 5, 6, 7].flatMap((g) => [
      ...get(m),
      ...get(v.xp),
      ...v128Load(16 * g),
      ...ins.f32x4Abs,
      ...ins.f32x4Max,
      ...set(m),
    ]),
    ...[
      ...get(m),
      ...lane(0),
      ...get(m),
      ...lane(1),
      ...ins.f32Max,
      ...get(m),
      ...lane(2),
      ...get(m),
      ...lane(3),
      ...ins.f32Max,
      ...ins.f32Max,
      ...set(amax),
    ],
    ...[...get(amax), ...ins.f64PromoteF32, ...f64Const(127), ...op.f64Div, ...set(d)],
    ...[
      ...f64Const(1),
      ...get(d),
      ...op.f64Div,
      ...f64Const(0),
      ...get(d),
      ...f64Const(0),
      ...op.f64Gt,
      ...ins.select,
      ...set(inv),
    ],
    ...[...get(inv), ...op.f64x2Splat, ...set(invv)],
    ...[...get(v.sp), ...f16, ...ins.f32DemoteF64, ...f32Store()],
    ...[...i32(0), ...ins.i32x4Splat, ...set(acc)],
    ...[0, 1, 2, 3].flatMap((j) => [
      ...four(2 * j),
      ...get(a),
      ...set(b),
      ...four(2 * j + 1),
      ...get(b),
      ...get(a),
      ...intIns.i16x8NarrowI32x4S,
      ...set(h16[j]!),
    ]),
    ...get(v.wide),
    0x04,
    0x40, // if wide: four i16x8 stores, else two i8x16
    ...[0, 1, 2, 3].flatMap((j) => [...get(v.qp), ...get(h16[j]!), ...v128Store(16 * j)]),
    0x05,
    ...[0, 1].flatMap((j) => [
      ...get(v.qp),
      ...get(h16[2 * j]!),
      ...get(h16[2 * j + 1]!),
      ...intIns.i8x16NarrowI16x8S,
      ...v128Store(16 * j),
    ]),
    0x0b,
    ...get(v.sums),
    ...ifThen([
      ...get(v.cp),
      ...[0, 1, 2, 3].flatMap((l, i) => [...get(acc), ...op.i32x4ExtractLane(l), ...(i > 0 ? ins.i32Add : [])]),
      ...i32(-2),
      ...ins.i32Mul,
      ...op.i32Store,
    ]),
    ...bump(v.xp, 128),
    ...bump(v.sp, 4),
    ...bump(v.cp, 4),
    ...[...get(v.qp), ...i32(32), ...get(v.wide), ...i32(5), ...ins.i32Shl, ...ins.i32Add, ...ins.i32Add, ...set(v.qp)],
  ];
  /** `out = base + t·k/8`: row t's k/32 four-byte entries (scales, sums). */
  const perBlockRow = (base: number, out: number): Code => [
    ...[
      ...get(base),
      ...get(v.t),
      ...get(v.k),
      ...ins.i32Mul,
      ...i32(3),
      ...intIns.i32ShrU,
      ...ins.i32Add,
      ...set(out),
    ],
  ];
  const body: Code = [
    ...param(p, P.X, v.x),
    ...param(p, P.XStride, v.xs),
    ...param(p, P.K, v.k),
    ...param(p, P.Q, v.q),
    ...param(p, P.Wide, v.wide),
    ...param(p, P.S, v.s),
    ...param(p, P.Sums, v.sums),
    ...[...f64Const(0.5), ...op.f64x2Splat, ...set(half)],
    ...get(r0),
    ...set(v.t),
    ...whileLt(v.t, r1, [
      ...[...get(v.x), ...get(v.t), ...get(v.xs), ...ins.i32Mul, ...ins.i32Add, ...set(v.xp)],
      ...[
        ...get(v.q),
        ...get(v.t),
        ...get(v.k),
        ...ins.i32Mul,
        ...get(v.wide),
        ...ins.i32Shl,
        ...ins.i32Add,
        ...set(v.qp),
      ],
      ...perBlockRow(v.s, v.sp),
      ...perBlockRow(v.sums, v.cp),
      ...[...get(v.xp), ...get(v.k), ...i32(2), ...ins.i32Shl, ...ins.i32Add, ...set(v.end)],
      ...whileLt(v.xp, v.end, block),
      ...bump(v.t, 1),
    ]),
  ];
  return { name: 'quantizeRows', params: 3, locals: L.types, body };
}
