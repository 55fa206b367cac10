import { add, bump, f32Load, f32Store, get, hsum, i32, i32Load, ins, param, set, v128Load, v128Store, whileLt, zeroV, Locals } from '../../wasm/asm.js';
import { F32, I32, V128, type Code, type KernelFunction } from '../../wasm/encode.js';
import { AttnParams, RowInfo } from './params.js';
import { attnItem, headBase } from './attentionItem.js';

/** scores[(t, h), s] = scale · q[t, h, :]·K[s, h / group, :] for s < context of row t. */
export function attnScores(): KernelFunction {
  const [p, i0, i1] = [0, 1, 2];
  const L = new Locals(3);
  const { i, t, h, ri, heads, group, hb, kp, qp, sp, n, s, j } = L.named(I32, 'i', 't', 'h', 'ri', 'heads', 'group', 'hb', 'kp', 'qp', 'sp', 'n', 's', 'j');
  const accV = L.add(V128);
  const scale = L.add(F32);
  const P = AttnParams;
  const body: Code = [
    ...param(p, P.Heads, heads), ...param(p, P.Group, group), ...param(p, P.HeadBytes, hb),
    ...get(p), ...f32Load(4 * P.Scale), ...set(scale),
    ...get(i0), ...set(i),
    ...whileLt(i, i1, [
      ...attnItem(p, i, { t, h, ri, heads, group }),
      ...headBase(ri, RowInfo.KBase, h, group), ...set(kp),
      ...get(ri), ...i32Load(4 * RowInfo.Context), ...set(n),
      ...get(p), ...i32Load(4 * P.Q), ...get(t), ...get(p), ...i32Load(4 * P.QStride), ...ins.i32Mul, ...ins.i32Add, ...get(h), ...get(hb), ...ins.i32Mul, ...ins.i32Add, ...set(qp),
      ...get(p), ...i32Load(4 * P.Scores), ...get(i), ...get(p), ...i32Load(4 * P.ScoreStride), ...ins.i32Mul, ...ins.i32Add, ...set(sp),
      ...i32(0), ...set(s),
      ...whileLt(s, n, [
        ...zeroV, ...set(accV), ...i32(0), ...set(j),
        ...whileLt(j, hb, [
          ...get(accV), ...get(qp), ...get(j), ...ins.i32Add, ...v128Load(), ...get(kp), ...get(j), ...ins.i32Add, ...v128Load(), ...ins.f32x4Mul, ...ins.f32x4Add, ...set(accV),
          ...bump(j, 16),
        ]),
        ...get(sp), ...hsum(accV), ...get(scale), ...ins.f32Mul, ...f32Store(),
        ...bump(sp, 4), ...add(kp, hb), ...set(kp), ...bump(s, 1),
      ]),
      ...bump(i, 1),
    ]),
  ];
  return { name: 'attnScores', params: 3, locals: L.types, body };
}

/** out[t, h, :] = Σ_s probs[(t, h), s]·V[s, h / group, :]. */
export function attnValues(): KernelFunction {
  const [p, i0, i1] = [0, 1, 2];
  const L = new Locals(3);
  const { i, t, h, ri, heads, group, hb, vp, op, pp, n, s, j, a } = L.named(I32, 'i', 't', 'h', 'ri', 'heads', 'group', 'hb', 'vp', 'op', 'pp', 'n', 's', 'j', 'a');
  const pv = L.add(V128);
  const P = AttnParams;
  const body: Code = [
    ...param(p, P.Heads, heads), ...param(p, P.Group, group), ...param(p, P.HeadBytes, hb),
    ...get(i0), ...set(i),
    ...whileLt(i, i1, [
      ...attnItem(p, i, { t, h, ri, heads, group }),
      ...headBase(ri, RowInfo.VBase, h, group), ...set(vp),
      ...get(ri), ...i32Load(4 * RowInfo.Context), ...set(n),
      ...get(p), ...i32Load(4 * P.Out), ...get(t), ...get(p), ...i32Load(4 * P.OutStride), ...ins.i32Mul, ...ins.i32Add, ...get(h), ...get(hb), ...ins.i32Mul, ...ins.i32Add, ...set(op),
      ...get(p), ...i32Load(4 * P.Scores), ...get(i), ...get(p), ...i32Load(4 * P.ScoreStride), ...ins.i32Mul, ...ins.i32Add, ...set(pp),
      ...i32(0), ...set(j),
      ...whileLt(j, hb, [...get(op), ...get(j), ...ins.i32Add, ...zeroV, ...v128Store(), ...bump(j, 16)]),
      ...i32(0), ...set(s),
      ...whileLt(s, n, [
        ...get(pp), ...f32Load(), ...ins.f32x4Splat, ...set(pv),
        ...i32(0), ...set(j),
        ...whileLt(j, hb, [
          ...get(op), ...get(j), ...ins.i32Add, ...set(a),
          ...get(a), ...get(a), ...v128Load(), ...get(pv), ...get(vp), ...get(j), ...ins.i32Add, ...v128Load(), ...ins.f32x4Mul, ...ins.f32x4Add, ...v128Store(),
          ...bump(j, 16),
        ]),
        ...bump(pp, 4), ...add(vp, hb), ...set(vp), ...bump(s, 1),
      ]),
      ...bump(i, 1),
    ]),
  ];
  return { name: 'attnValues', params: 3, locals: L.types, body };
}
