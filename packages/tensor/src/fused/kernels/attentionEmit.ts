import {
  bump,
  f32Load,
  f32Store,
  get,
  hsum,
  i32,
  ins,
  lane,
  set,
  v128Load,
  v128Store,
  whileLt,
  zeroV,
} from '../../wasm/asm.js';
import type { Code } from '../../wasm/encode.js';
import { expNonPositive, expNonPositiveV } from './exp.js';

/**
 * Emit pieces the attention kernels share (attention, attnScores, attentionTiled*): each helper
 * returns the one instruction sequence both the per-row and the tiled kernels run, so a change to
 * the softmax or the accumulate lands in every kernel at once.
 */

/** acc += left·right on f32x4: one relaxed fused multiply-add when `fma`, else mul then add. */
export function fmaInto(fma: boolean, acc: number, left: Code, right: Code): Code {
  return fma
    ? [...left, ...right, ...get(acc), ...ins.f32x4RelaxedMadd, ...set(acc)]
    : [...get(acc), ...left, ...right, ...ins.f32x4Mul, ...ins.f32x4Add, ...set(acc)];
}

/** f32 local `scale` ← params[field] (the attention scale, read once before the item loop). */
export function loadScale(p: number, field: number, scale: number): Code {
  return [...get(p), ...f32Load(4 * field), ...set(scale)];
}

/** max ← max(max, every lane of the v128 local `maxV`). */
export function foldLaneMax(max: number, maxV: number): Code {
  return [0, 1, 2, 3].flatMap((l) => [...get(max), ...get(maxV), ...lane(l), ...ins.f32Max, ...set(max)]);
}

/** The locals of `expAndSum` (wasm local indices): i32 s, n4, n, a; f32 max, sum, e, x, en, er; v128 pv, sumV, xv, nv, rv. */
export interface ExpSumLocals {
  readonly s: number;
  /** Count of scores rounded down to a multiple of 4 (the vector loop's end). */
  readonly n4: number;
  readonly n: number;
  readonly a: number;
  readonly max: number;
  readonly sum: number;
  readonly e: number;
  readonly x: number;
  readonly en: number;
  readonly er: number;
  readonly pv: number;
  readonly sumV: number;
  readonly xv: number;
  readonly nv: number;
  readonly rv: number;
}

/**
 * The softmax numerator in place: score[s] ← e^(score[s] − max) for s < n, four at a time then the
 * remainder, leaving Σ e in `sum`. `scoreAt` is the byte address of score s (reads local s only).
 */
export function expAndSum(L: ExpSumLocals, scoreAt: Code): Code {
  return [
    ...zeroV,
    ...set(L.sumV),
    ...i32(0),
    ...set(L.s),
    ...whileLt(L.s, L.n4, [
      ...scoreAt,
      ...set(L.a),
      ...get(L.a),
      ...get(L.a),
      ...v128Load(),
      ...get(L.max),
      ...ins.f32x4Splat,
      ...ins.f32x4Sub,
      ...expNonPositiveV(L.xv, L.nv, L.rv),
      ...set(L.pv),
      ...get(L.pv),
      ...v128Store(),
      ...get(L.sumV),
      ...get(L.pv),
      ...ins.f32x4Add,
      ...set(L.sumV),
      ...bump(L.s, 4),
    ]),
    ...hsum(L.sumV),
    ...set(L.sum),
    ...whileLt(L.s, L.n, [
      ...scoreAt,
      ...f32Load(),
      ...get(L.max),
      ...ins.f32Sub,
      ...set(L.x),
      ...expNonPositive(L.x, L.en, L.er),
      ...set(L.e),
      ...scoreAt,
      ...get(L.e),
      ...f32Store(),
      ...get(L.sum),
      ...get(L.e),
      ...ins.f32Add,
      ...set(L.sum),
      ...bump(L.s, 1),
    ]),
  ];
}

/** The locals of `eachOut`: i32 j (byte offset in the row), a (scratch address), hb (head bytes), op (the out row). */
export interface OutLocals {
  readonly j: number;
  readonly a: number;
  readonly hb: number;
  readonly op: number;
}

/** out[j] ← `value` for every 16-byte lane group j of the out row at `op`; `value` may read local a = op + j. */
export function eachOut(L: OutLocals, value: Code): Code {
  return [
    ...i32(0),
    ...set(L.j),
    ...whileLt(L.j, L.hb, [
      ...get(L.op),
      ...get(L.j),
      ...ins.i32Add,
      ...set(L.a),
      ...get(L.a),
      ...value,
      ...v128Store(),
      ...bump(L.j, 16),
    ]),
  ];
}
