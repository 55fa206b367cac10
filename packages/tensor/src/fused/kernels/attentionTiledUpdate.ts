import {
  bump,
  f32,
  f32Load,
  f32Store,
  floatAddr,
  get,
  i32,
  i32Load,
  ifThen,
  ins,
  set,
  v128Load,
  whileLt,
  zeroV,
} from '../../wasm/asm.js';
import type { Code } from '../../wasm/encode.js';
import { expNonPositive } from './exp.js';
import { eachOut as eachOutRow, expAndSum, foldLaneMax } from './attentionEmit.js';
import { AttnParams, RowInfo } from './params.js';
import { rowPtr } from './attentionItem.js';

/** The locals of attentionTiled that its per-query steps use (wasm local indices; p the params pointer). */
export interface TiledLocals {
  readonly p: number;
  readonly fma: boolean;
  readonly [local: string]: number | boolean;
}

/** The local named `name` (an emitter bug when there is none). */
export function local(c: TiledLocals, name: string): number {
  const index = c[name];
  if (typeof index !== 'number') throw new Error(`attentionTiled: no local ${name}`);
  return index;
}
const L = local;

/** The locals named `names`, by name. */
export function pick<K extends string>(c: TiledLocals, ...names: K[]): Record<K, number> {
  return Object.fromEntries(names.map((name) => [name, local(c, name)])) as Record<K, number>;
}

/** min(a, b) of two unsigned i32 expressions (each emitted twice: no side effects). */
export const minU = (a: Code, b: Code): Code => [...a, ...b, ...a, ...b, ...ins.i32LtU, ...ins.select];

/** Byte offset of the tile's scores / probabilities in a score row (after max, sum, factor, pad). */
export const SCORE_HEADER_BYTES = 16;
/** Byte offset of the factor e^(m_old − m_new) that out is scaled by before the tile's values join. */
export const FACTOR_BYTES = 8;

/** Sets locals t (row of the run) and h (query head) of query u of the item's block: u = r·group + (h mod group). */
export function locate(c: TiledLocals, u: Code): Code {
  return [
    ...get(L(c, 't0')),
    ...u,
    ...get(L(c, 'group')),
    ...ins.i32DivU,
    ...ins.i32Add,
    ...set(L(c, 't')),
    ...get(L(c, 'g')),
    ...get(L(c, 'group')),
    ...ins.i32Mul,
    ...u,
    ...get(L(c, 'group')),
    ...ins.i32RemU,
    ...ins.i32Add,
    ...set(L(c, 'h')),
  ];
}

/** The score row of (t, h): Scores + (t·heads + h)·ScoreStride (running max, running sum, tile scores). */
export function scoreRow(c: TiledLocals): Code {
  return [
    ...get(c.p),
    ...i32Load(4 * AttnParams.Scores),
    ...get(L(c, 't')),
    ...get(L(c, 'heads')),
    ...ins.i32Mul,
    ...get(L(c, 'h')),
    ...ins.i32Add,
    ...get(c.p),
    ...i32Load(4 * AttnParams.ScoreStride),
    ...ins.i32Mul,
    ...ins.i32Add,
  ];
}

/** out[t, h, :] of the located query. */
export function outRow(c: TiledLocals): Code {
  return rowPtr(c.p, AttnParams.Out, AttnParams.OutStride, L(c, 't'), pick(c, 'h', 'hb'), true);
}

/** out[j] ← `value` for every 16-byte lane group j of the query's out row (local a its address). */
export function eachOut(c: TiledLocals, value: Code): Code {
  return eachOutRow(pick(c, 'j', 'a', 'hb', 'op'), value);
}

/**
 * Query u's softmax step on the current tile (keys s0 .. s0 + kt): the tile's max joins the running
 * max m, its scores become p = e^(score − m_new) in place (0 past the keys its row attends), the
 * running sum becomes sum·f + Σ p and f = e^(m_old − m_new) is kept for tileValues. A row that
 * attends none of the tile gets p = 0 and f = 1. The first tile starts m = −∞, sum 0, out 0. `attended` runs
 * after the step of a row that attends some of the tile (p, cnt and factor still in place: keepTile).
 */
export function updateQuery(c: TiledLocals, rowInfoOf: (t: number) => Code, attended: Code = []): Code {
  const n = (name: string): number => L(c, name);
  const [s, sp, cnt, cnt4, a] = [n('s'), n('sp'), n('cnt'), n('cnt4'), n('a')];
  const [maxV, sumV, pv, xv, nv, rv] = [n('maxV'), n('sumV'), n('pv'), n('xv'), n('nv'), n('rv')];
  const [mOld, mNew, sum, e, x, en, er, factor] = ['mOld', 'mNew', 'sum', 'e', 'x', 'en', 'er', 'factor'].map(n) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const score = (index: number): Code => [...floatAddr(sp, index), ...i32(SCORE_HEADER_BYTES), ...ins.i32Add];
  const zeroFrom = (from: Code): Code => [
    ...from,
    ...set(s),
    ...whileLt(s, n('kt'), [...score(s), ...f32(0), ...f32Store(), ...bump(s, 1)]),
  ];
  const attends: Code = [
    // keys of this tile the row attends: min(context − s0, kt)
    ...get(cnt),
    ...get(n('s0')),
    ...ins.i32Sub,
    ...set(cnt),
    ...get(cnt),
    ...get(n('kt')),
    ...get(cnt),
    ...get(n('kt')),
    ...ins.i32LtU,
    ...ins.select,
    ...set(cnt),
    ...get(cnt),
    ...i32(~3),
    ...ins.i32And,
    ...set(cnt4),
    ...get(n('s0')),
    ...ins.i32Eqz,
    ...ifThen([
      ...get(sp),
      ...f32(-Infinity),
      ...f32Store(),
      ...get(sp),
      ...f32(0),
      ...f32Store(4),
      ...outRow(c),
      ...set(n('op')),
      ...eachOut(c, zeroV),
    ]),
    // the tile's max joins the running max
    ...get(sp),
    ...f32Load(),
    ...set(mOld),
    ...f32(-Infinity),
    ...ins.f32x4Splat,
    ...set(maxV),
    ...i32(0),
    ...set(s),
    ...whileLt(s, cnt4, [...get(maxV), ...score(s), ...v128Load(), ...ins.f32x4Max, ...set(maxV), ...bump(s, 4)]),
    ...get(mOld),
    ...set(mNew),
    ...foldLaneMax(mNew, maxV),
    ...whileLt(s, cnt, [...get(mNew), ...score(s), ...f32Load(), ...ins.f32Max, ...set(mNew), ...bump(s, 1)]),
    ...get(mOld),
    ...get(mNew),
    ...ins.f32Sub,
    ...set(x),
    ...expNonPositive(x, en, er),
    ...set(factor),
    // p = e^(score − m_new) in place, and their sum
    ...expAndSum({ s, n4: cnt4, n: cnt, a, max: mNew, sum, e, x, en, er, pv, sumV, xv, nv, rv }, score(s)),
    ...zeroFrom(get(cnt)),
    ...get(sp),
    ...get(sp),
    ...f32Load(4),
    ...get(factor),
    ...ins.f32Mul,
    ...get(sum),
    ...ins.f32Add,
    ...f32Store(4),
    ...get(sp),
    ...get(mNew),
    ...f32Store(),
    ...get(sp),
    ...get(factor),
    ...f32Store(FACTOR_BYTES),
    ...attended,
  ];
  return [
    ...locate(c, get(n('u'))),
    ...scoreRow(c),
    ...set(sp),
    ...rowInfoOf(n('t')),
    ...i32Load(4 * RowInfo.Context),
    ...set(cnt),
    // a row that attends none of the tile (context ≤ s0): nothing joins
    ...get(n('s0')),
    ...get(cnt),
    ...ins.i32GeU,
    ...ifThen([...get(sp), ...f32(1), ...f32Store(FACTOR_BYTES), ...zeroFrom(i32(0))]),
    ...get(n('s0')),
    ...get(cnt),
    ...ins.i32LtU,
    ...ifThen(attends),
  ];
}
