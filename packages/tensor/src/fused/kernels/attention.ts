import {
  add,
  bump,
  f32,
  f32Load,
  f32Store,
  get,
  hsum,
  hsum4,
  i32,
  i32Load,
  ins,
  set,
  v128Load,
  v128Store,
  whileLt,
  zeroV,
  Locals,
  floatAddr,
} from '../../wasm/asm.js';
import { F32, I32, V128, type Code, type KernelFunction } from '../../wasm/encode.js';
import { AttnParams, RowInfo } from './params.js';
import { forEachItem, headBase, rowPtr } from './attentionItem.js';
import { keepProbabilities } from './attentionKeep.js';
import { eachOut, expAndSum, fmaInto, foldLaneMax, loadScale } from './attentionEmit.js';

/**
 * Scores, softmax and values of one (t, h) per item, all in one pass per item: scores are kept in the
 * item's scratch row, exponentiated in place against their max, values accumulated unnormalised and
 * scaled by 1/Σ at the end. Params as attnScores/attnValues (AttnParams). Four positions at a time:
 * four independent dot products per q load for the scores, and out[j] += Σ of four e·V[s, j] per
 * load/store of out for the values (the one-position loops take the remainder). With KeepProbs set
 * the score row is left holding the probabilities (keepProbabilities).
 */
export function attention(fma = false): KernelFunction {
  const [p, i0, i1] = [0, 1, 2];
  const L = new Locals(3);
  const { i, t, h, ri, heads, group, hb, kp, vp, qp, sp, op, n, n4, s, j, a, k1, k2, k3 } = L.named(
    I32,
    'i',
    't',
    'h',
    'ri',
    'heads',
    'group',
    'hb',
    'kp',
    'vp',
    'qp',
    'sp',
    'op',
    'n',
    'n4',
    's',
    'j',
    'a',
    'k1',
    'k2',
    'k3',
  );
  const { accV, pv, qv, c1, c2, c3, p1, p2, p3, xv, nv, rv, sumV, maxV } = L.named(
    V128,
    'accV',
    'pv',
    'qv',
    'c1',
    'c2',
    'c3',
    'p1',
    'p2',
    'p3',
    'xv',
    'nv',
    'rv',
    'sumV',
    'maxV',
  );
  const { scale, max, sum, e, x, en, er } = L.named(F32, 'scale', 'max', 'sum', 'e', 'x', 'en', 'er');
  const P = AttnParams;
  const scoreAt = (index: Code): Code => [...get(sp), ...index, ...i32(2), ...ins.i32Shl, ...ins.i32Add];
  const keep = (acc: number, sOffset: number): Code => [
    ...hsum(acc),
    ...get(scale),
    ...ins.f32Mul,
    ...set(e),
    ...scoreAt([...get(s), ...(sOffset ? [...i32(sOffset), ...ins.i32Add] : [])]),
    ...get(e),
    ...f32Store(),
    ...get(max),
    ...get(e),
    ...ins.f32Max,
    ...set(max),
  ];
  const at = (ptr: number): Code => [...get(ptr), ...get(j), ...ins.i32Add, ...v128Load()];
  const splatScore = (offset: number, into: number): Code => [
    ...floatAddr(sp, s),
    ...f32Load(4 * offset),
    ...ins.f32x4Splat,
    ...set(into),
  ];
  const I = { i, t, h, ri, heads, group, hb };
  const O = { j, a, hb, op };
  const body = forEachItem(p, i0, i1, I, loadScale(p, P.Scale, scale), [
    ...headBase(I, RowInfo.KBase),
    ...set(kp),
    ...headBase(I, RowInfo.VBase),
    ...set(vp),
    ...get(ri),
    ...i32Load(4 * RowInfo.Context),
    ...set(n),
    ...get(n),
    ...i32(~3),
    ...ins.i32And,
    ...set(n4),
    ...rowPtr(p, P.Q, P.QStride, t, I, true),
    ...set(qp),
    ...rowPtr(p, P.Out, P.OutStride, t, I, true),
    ...set(op),
    ...rowPtr(p, P.Scores, P.ScoreStride, i, I, false),
    ...set(sp),
    // scores and their max, four keys per q load
    ...f32(-Infinity),
    ...set(max),
    ...f32(-Infinity),
    ...ins.f32x4Splat,
    ...set(maxV),
    ...i32(0),
    ...set(s),
    ...whileLt(s, n4, [
      ...add(kp, hb),
      ...set(k1),
      ...add(k1, hb),
      ...set(k2),
      ...add(k2, hb),
      ...set(k3),
      ...[accV, c1, c2, c3].flatMap((v) => [...zeroV, ...set(v)]),
      ...i32(0),
      ...set(j),
      ...whileLt(j, hb, [
        ...at(qp),
        ...set(qv),
        ...fmaInto(fma, accV, get(qv), at(kp)),
        ...fmaInto(fma, c1, get(qv), at(k1)),
        ...fmaInto(fma, c2, get(qv), at(k2)),
        ...fmaInto(fma, c3, get(qv), at(k3)),
        ...bump(j, 16),
      ]),
      // the four sums at once (two shuffle rounds), scaled, stored as one vector, lane-wise max
      ...scoreAt(get(s)),
      ...hsum4(accV, c1, c2, c3, p1, p2),
      ...get(scale),
      ...ins.f32x4Splat,
      ...ins.f32x4Mul,
      ...set(pv),
      ...get(pv),
      ...v128Store(),
      ...get(maxV),
      ...get(pv),
      ...ins.f32x4Max,
      ...set(maxV),
      ...add(k3, hb),
      ...set(kp),
      ...bump(s, 4),
    ]),
    ...foldLaneMax(max, maxV),
    ...whileLt(s, n, [
      ...zeroV,
      ...set(accV),
      ...i32(0),
      ...set(j),
      ...whileLt(j, hb, [...fmaInto(fma, accV, at(qp), at(kp)), ...bump(j, 16)]),
      ...keep(accV, 0),
      ...add(kp, hb),
      ...set(kp),
      ...bump(s, 1),
    ]),
    // e = exp(score − max) in place, four at a time, and Σ e
    ...expAndSum({ s, n4, n, a, max, sum, e, x, en, er, pv, sumV, xv, nv, rv }, scoreAt(get(s))),
    // out = Σ e·V, four positions per load/store of out, then / Σ e
    ...i32(0),
    ...set(j),
    ...whileLt(j, hb, [...get(op), ...get(j), ...ins.i32Add, ...zeroV, ...v128Store(), ...bump(j, 16)]),
    ...i32(0),
    ...set(s),
    ...whileLt(s, n4, [
      ...splatScore(0, pv),
      ...splatScore(1, p1),
      ...splatScore(2, p2),
      ...splatScore(3, p3),
      ...add(vp, hb),
      ...set(k1),
      ...add(k1, hb),
      ...set(k2),
      ...add(k2, hb),
      ...set(k3),
      ...eachOut(
        O,
        fma
          ? [
              ...get(pv),
              ...at(vp),
              ...get(p1),
              ...at(k1),
              ...get(p2),
              ...at(k2),
              ...get(p3),
              ...at(k3),
              ...get(a),
              ...v128Load(),
              ...ins.f32x4RelaxedMadd,
              ...ins.f32x4RelaxedMadd,
              ...ins.f32x4RelaxedMadd,
              ...ins.f32x4RelaxedMadd,
            ] // p0·V0 + (p1·V1 + (p2·V2 + (p3·V3 + out)))
          : [
              ...get(a),
              ...v128Load(),
              ...get(pv),
              ...at(vp),
              ...ins.f32x4Mul,
              ...get(p1),
              ...at(k1),
              ...ins.f32x4Mul,
              ...ins.f32x4Add,
              ...get(p2),
              ...at(k2),
              ...ins.f32x4Mul,
              ...get(p3),
              ...at(k3),
              ...ins.f32x4Mul,
              ...ins.f32x4Add,
              ...ins.f32x4Add,
              ...ins.f32x4Add,
            ],
      ),
      ...add(k3, hb),
      ...set(vp),
      ...bump(s, 4),
    ]),
    ...whileLt(s, n, [
      ...splatScore(0, pv),
      ...eachOut(O, [...get(a), ...v128Load(), ...get(pv), ...at(vp), ...ins.f32x4Mul, ...ins.f32x4Add]),
      ...add(vp, hb),
      ...set(vp),
      ...bump(s, 1),
    ]),
    ...f32(1),
    ...get(sum),
    ...ins.f32Div,
    ...ins.f32x4Splat,
    ...set(pv),
    ...eachOut(O, [...get(a), ...v128Load(), ...get(pv), ...ins.f32x4Mul]),
    ...keepProbabilities({ p, sp, s, n, n4, a, inv: pv }),
  ]);
  return { name: 'attention', params: 3, locals: L.types, body };
}
