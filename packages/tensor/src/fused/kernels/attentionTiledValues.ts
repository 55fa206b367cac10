import {
  bump,
  f32,
  f32Load,
  floatAddr,
  get,
  i32,
  ins,
  set,
  v128Load,
  v128Load32Splat,
  v128Store,
  whileLt,
  zeroV,
} from '../../wasm/asm.js';
import type { Code } from '../../wasm/encode.js';
import { fmaInto } from './attentionEmit.js';
import {
  FACTOR_BYTES,
  SCORE_HEADER_BYTES,
  eachOut,
  local,
  locate,
  outRow,
  scoreRow,
  type TiledLocals,
} from './attentionTiledUpdate.js';

/** Queries per step: two × four lanes of out = eight accumulators (three × four spill; see attentionTiled). */
const BLOCK = 2;
/**
 * out ← out·factor + Σ_s p[s]·V[s0 + s] for the tile's kt keys, for every query of the block: the
 * P·V product as a register-tiled GEMM, two queries × four 4-float lanes of out in eight
 * accumulators per step (each V load serves two queries, each p splat four lanes). An odd last
 * query, and lanes past a multiple of 16 floats, take the 1-wide forms. Masked keys have
 * p = 0 (their V rows are written positions of the block's sequence).
 */
export function tileValues(c: TiledLocals): Code {
  const n = (name: string): number => local(c, name);
  const [u, U, j, hb] = [n('u'), n('U'), n('j'), n('hb')];
  const pairs = n('U2'); // U rounded down to a multiple of BLOCK
  const lanes4 = n('hb64'); // head bytes rounded down to a multiple of 64
  const setup = (queries: number): Code =>
    [0, 1]
      .slice(0, queries)
      .flatMap((x) => [
        ...locate(c, [...get(u), ...i32(x), ...ins.i32Add]),
        ...scoreRow(c),
        ...set(n(['sa', 'sb'][x]!)),
        ...outRow(c),
        ...set(n(['oa', 'ob'][x]!)),
      ]);
  const forQueries = (queries: number): Code => [
    ...setup(queries),
    ...i32(0),
    ...set(j),
    ...whileLt(j, lanes4, [...micro(c, queries, 4), ...bump(j, 64)]),
    ...whileLt(j, hb, [...micro(c, queries, 1), ...bump(j, 16)]),
    ...bump(u, queries),
  ];
  return [
    ...get(U),
    ...get(U),
    ...i32(BLOCK),
    ...ins.i32RemU,
    ...ins.i32Sub,
    ...set(pairs),
    ...get(hb),
    ...i32(~63),
    ...ins.i32And,
    ...set(lanes4),
    ...i32(0),
    ...set(u),
    ...whileLt(u, pairs, forQueries(BLOCK)),
    ...whileLt(u, U, forQueries(1)),
  ];
}

/** One step: `queries` × `chunks` lanes of out at byte j over every key of the tile. */
function micro(c: TiledLocals, queries: number, chunks: number): Code {
  const n = (name: string): number => local(c, name);
  const [j, s, kp, hb] = [n('j'), n('s'), n('kp'), n('hb')];
  const rows = ['sa', 'sb'].slice(0, queries).map(n);
  const outs = ['oa', 'ob'].slice(0, queries).map(n);
  const acc = [
    ['a0', 'a1', 'a2', 'a3'],
    ['b0', 'b1', 'b2', 'b3'],
  ].map((names) => names.slice(0, chunks).map(n));
  const ps = ['qva', 'qvb'].map(n);
  const kv = n('kv');
  return [
    ...acc.slice(0, queries).flatMap((row) => row.flatMap((a) => [...zeroV, ...set(a)])),
    // kp: V[s0 + s] + j
    ...get(n('vb')),
    ...get(n('s0')),
    ...get(hb),
    ...ins.i32Mul,
    ...ins.i32Add,
    ...get(j),
    ...ins.i32Add,
    ...set(kp),
    ...i32(0),
    ...set(s),
    ...whileLt(s, n('kt'), [
      ...rows.flatMap((row, x) => [...floatAddr(row, s), ...v128Load32Splat(SCORE_HEADER_BYTES), ...set(ps[x]!)]),
      ...Array.from({ length: chunks }, (_, k) => [
        ...get(kp),
        ...v128Load(16 * k),
        ...set(kv),
        ...rows.flatMap((_, x) => fmaInto(c.fma, acc[x]![k]!, get(ps[x]!), get(kv))),
      ]).flat(),
      ...get(kp),
      ...get(hb),
      ...ins.i32Add,
      ...set(kp),
      ...bump(s, 1),
    ]),
    // out·factor + acc
    ...outs.flatMap((out, x) =>
      Array.from({ length: chunks }, (_, k) => [
        ...get(out),
        ...get(j),
        ...ins.i32Add,
        ...set(n('a')),
        ...get(n('a')),
        ...get(n('a')),
        ...v128Load(16 * k),
        ...get(rows[x]!),
        ...f32Load(FACTOR_BYTES),
        ...ins.f32x4Splat,
        ...ins.f32x4Mul,
        ...get(acc[x]![k]!),
        ...ins.f32x4Add,
        ...v128Store(16 * k),
      ]).flat(),
    ),
  ];
}

/** out /= running sum, for every query of the item's block. */
export function finishQueries(c: TiledLocals, after: Code = []): Code {
  const [u, sp, pv] = [local(c, 'u'), local(c, 'sp'), local(c, 'pv')];
  return [
    ...i32(0),
    ...set(u),
    ...whileLt(u, local(c, 'U'), [
      ...locate(c, get(u)),
      ...scoreRow(c),
      ...set(sp),
      ...outRow(c),
      ...set(local(c, 'op')),
      ...f32(1),
      ...get(sp),
      ...f32Load(4),
      ...ins.f32Div,
      ...ins.f32x4Splat,
      ...set(pv),
      ...eachOut(c, [...get(local(c, 'a')), ...v128Load(), ...get(pv), ...ins.f32x4Mul]),
      ...after,
      ...bump(u, 1),
    ]),
  ];
}
