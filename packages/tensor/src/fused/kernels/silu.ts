import {
  add,
  bump,
  get,
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
import { SiluParams } from './params.js';
import { expNonPositiveV, splatF } from './exp.js';

/** SiLU(gate)·up per row, four lanes at a time: σ(g) = 1/(1 + e) for g ≥ 0, e/(1 + e) below, e = exp(−|g|). */
export function siluMul(): KernelFunction {
  const [p, r0, r1] = [0, 1, 2];
  const L = new Locals(3);
  const { r, g, uo, nb, rs, j, a } = L.named(I32, 'r', 'g', 'uo', 'nb', 'rs', 'j', 'a');
  const { gv, ev, x, n, rr } = L.named(V128, 'gv', 'ev', 'x', 'n', 'rr');
  const P = SiluParams;
  const body: Code = [
    ...param(p, P.UpOffset, uo),
    ...param(p, P.RowStride, rs),
    ...get(p),
    ...i32Load(4 * P.N),
    ...i32(2),
    ...ins.i32Shl,
    ...set(nb),
    ...get(r0),
    ...set(r),
    ...whileLt(r, r1, [
      ...get(p),
      ...i32Load(4 * P.Gate),
      ...get(r),
      ...get(rs),
      ...ins.i32Mul,
      ...ins.i32Add,
      ...set(g),
      ...i32(0),
      ...set(j),
      ...whileLt(j, nb, [
        ...add(g, j),
        ...set(a),
        ...get(a),
        ...v128Load(),
        ...set(gv),
        ...get(gv),
        ...ins.f32x4Abs,
        ...ins.f32x4Neg,
        ...expNonPositiveV(x, n, rr),
        ...set(ev),
        ...get(a),
        // g · (g ≥ 0 ? 1 : e) / (1 + e) · up
        ...get(gv),
        ...splatF(1),
        ...get(ev),
        ...get(gv),
        ...zeroV,
        ...ins.f32x4Ge,
        ...ins.v128Bitselect,
        ...ins.f32x4Mul,
        ...splatF(1),
        ...get(ev),
        ...ins.f32x4Add,
        ...ins.f32x4Div,
        ...get(a),
        ...get(uo),
        ...ins.i32Add,
        ...v128Load(),
        ...ins.f32x4Mul,
        ...v128Store(),
        ...bump(j, 16),
      ]),
      ...bump(r, 1),
    ]),
  ];
  return { name: 'siluMul', params: 3, locals: L.types, body };
}
