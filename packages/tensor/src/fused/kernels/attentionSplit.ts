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
  set,
  v128Load,
  v128Store,
  whileLt,
  zeroV,
  Locals,
} from '../../wasm/asm.js';
import { F32, I32, V128, type KernelFunction } from '../../wasm/encode.js';
import { AttnParams, RowInfo } from './params.js';
import { forEachItem, headBase, rowPtr } from './attentionItem.js';
import { loadScale } from './attentionEmit.js';

/** scores[(t, h), s] = scale · q[t, h, :]·K[s, h / group, :] for s < context of row t. */
export function attnScores(): KernelFunction {
  const [p, i0, i1] = [0, 1, 2];
  const L = new Locals(3);
  const { i, t, h, ri, heads, group, hb, kp, qp, sp, n, s, j } = L.named(
    I32,
    'i',
    't',
    'h',
    'ri',
    'heads',
    'group',
    'hb',
    'kp',
    'qp',
    'sp',
    'n',
    's',
    'j',
  );
  const accV = L.add(V128);
  const scale = L.add(F32);
  const P = AttnParams;
  const I = { i, t, h, ri, heads, group, hb };
  const body = forEachItem(p, i0, i1, I, loadScale(p, P.Scale, scale), [
    ...headBase(I, RowInfo.KBase),
    ...set(kp),
    ...get(ri),
    ...i32Load(4 * RowInfo.Context),
    ...set(n),
    ...rowPtr(p, P.Q, P.QStride, t, I, true),
    ...set(qp),
    ...rowPtr(p, P.Scores, P.ScoreStride, i, I, false),
    ...set(sp),
    ...i32(0),
    ...set(s),
    ...whileLt(s, n, [
      ...zeroV,
      ...set(accV),
      ...i32(0),
      ...set(j),
      ...whileLt(j, hb, [
        ...get(accV),
        ...get(qp),
        ...get(j),
        ...ins.i32Add,
        ...v128Load(),
        ...get(kp),
        ...get(j),
        ...ins.i32Add,
        ...v128Load(),
        ...ins.f32x4Mul,
        ...ins.f32x4Add,
        ...set(accV),
        ...bump(j, 16),
      ]),
      ...get(sp),
      ...hsum(accV),
      ...get(scale),
      ...ins.f32Mul,
      ...f32Store(),
      ...bump(sp, 4),
      ...add(kp, hb),
      ...set(kp),
      ...bump(s, 1),
    ]),
  ]);
  return { name: 'attnScores', params: 3, locals: L.types, body };
}

/** out[t, h, :] = Σ_s probs[(t, h), s]·V[s, h / group, :]. */
export function attnValues(): KernelFunction {
  const [p, i0, i1] = [0, 1, 2];
  const L = new Locals(3);
  const { i, t, h, ri, heads, group, hb, vp, op, pp, n, s, j, a } = L.named(
    I32,
    'i',
    't',
    'h',
    'ri',
    'heads',
    'group',
    'hb',
    'vp',
    'op',
    'pp',
    'n',
    's',
    'j',
    'a',
  );
  const pv = L.add(V128);
  const P = AttnParams;
  const I = { i, t, h, ri, heads, group, hb };
  const body = forEachItem(
    p,
    i0,
    i1,
    I,
    [],
    [
      ...headBase(I, RowInfo.VBase),
      ...set(vp),
      ...get(ri),
      ...i32Load(4 * RowInfo.Context),
      ...set(n),
      ...rowPtr(p, P.Out, P.OutStride, t, I, true),
      ...set(op),
      ...rowPtr(p, P.Scores, P.ScoreStride, i, I, false),
      ...set(pp),
      ...i32(0),
      ...set(j),
      ...whileLt(j, hb, [...get(op), ...get(j), ...ins.i32Add, ...zeroV, ...v128Store(), ...bump(j, 16)]),
      ...i32(0),
      ...set(s),
      ...whileLt(s, n, [
        ...get(pp),
        ...f32Load(),
        ...ins.f32x4Splat,
        ...set(pv),
        ...i32(0),
        ...set(j),
        ...whileLt(j, hb, [
          ...get(op),
          ...get(j),
          ...ins.i32Add,
          ...set(a),
          ...get(a),
          ...get(a),
          ...v128Load(),
          ...get(pv),
          ...get(vp),
          ...get(j),
          ...ins.i32Add,
          ...v128Load(),
          ...ins.f32x4Mul,
          ...ins.f32x4Add,
          ...v128Store(),
          ...bump(j, 16),
        ]),
        ...bump(pp, 4),
        ...add(vp, hb),
        ...set(vp),
        ...bump(s, 1),
      ]),
    ],
  );
  return { name: 'attnValues', params: 3, locals: L.types, body };
}
