import {
  add,
  bump,
  f32Store,
  floatAddr,
  get,
  hsum,
  hsum4,
  i32,
  ins,
  set,
  v128Load,
  v128Store,
  whileLt,
  zeroV,
} from '../../wasm/asm.js';
import type { Code } from '../../wasm/encode.js';
import { AttnParams as P } from './params.js';
import { rowPtr } from './attentionItem.js';
import { fmaInto } from './attentionEmit.js';
import { SCORE_HEADER_BYTES, local, locate, minU, pick, scoreRow, type TiledLocals } from './attentionTiledUpdate.js';

/**
 * The scores of the current tile (keys s0 .. s0 + kt) for every query of the block, scaled, into
 * each query's score row: two queries against four keys per step (eight accumulators; each K load
 * serves two queries, each q load four keys; an odd U's last pair repeats query U − 1).
 */
export function tileScores(c: TiledLocals): Code {
  const { p, fma } = c;
  const n = pick(
    c,
    't',
    'h',
    'hb',
    'U',
    'u',
    'j',
    's',
    'kp',
    'k1',
    'k2',
    'k3',
    'kb',
    's0',
    'kt',
    'kt4',
    'qa',
    'qb',
    'sa',
    'sb',
  );
  const v = pick(c, 'a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'b3', 'qva', 'qvb', 'kv');
  const f = { scale: local(c, 'scale') };
  // query u of the block (u clamped to U − 1) → its q pointer and its score row (past max and sum)
  const query = (uCode: Code, qp: number, sp: number): Code => [
    ...locate(c, uCode),
    ...rowPtr(p, P.Q, P.QStride, n.t, n, true),
    ...set(qp),
    ...scoreRow(c),
    ...set(sp),
  ];
  const last = [...get(n.U), ...i32(1), ...ins.i32Sub];
  const clampU = (d: number): Code => minU([...get(n.u), ...i32(d), ...ins.i32Add], last);
  const fmaQK = (acc: number, q: number, k: number): Code => fmaInto(fma, acc, get(q), get(k));
  const loadAt = (ptr: number): Code => [...get(ptr), ...get(n.j), ...ins.i32Add, ...v128Load()];
  const accs = [
    [v.a0, v.a1, v.a2, v.a3],
    [v.b0, v.b1, v.b2, v.b3],
  ] as const;
  const qvs = [v.qva, v.qvb] as const;
  const qps = [n.qa, n.qb] as const;
  const sps = [n.sa, n.sb] as const;
  const keyPtrs = [n.kp, n.k1, n.k2, n.k3] as const;

  // scores of the two queries against keys s..s+3 of the tile
  const fourKeys: Code = [
    ...add(n.kp, n.hb),
    ...set(n.k1),
    ...add(n.k1, n.hb),
    ...set(n.k2),
    ...add(n.k2, n.hb),
    ...set(n.k3),
    ...accs.flat().flatMap((acc) => [...zeroV, ...set(acc)]),
    ...i32(0),
    ...set(n.j),
    ...whileLt(n.j, n.hb, [
      ...qps.flatMap((qp, x) => [...loadAt(qp), ...set(qvs[x]!)]),
      ...keyPtrs.flatMap((kp, key) => [
        ...loadAt(kp),
        ...set(v.kv),
        ...accs.flatMap((row, x) => fmaQK(row[key]!, qvs[x]!, v.kv)),
      ]),
      ...bump(n.j, 16),
    ]),
    ...accs.flatMap((row, x) => [
      ...floatAddr(sps[x]!, n.s),
      ...hsum4(row[0], row[1], row[2], row[3], v.qva, v.kv),
      ...get(f.scale),
      ...ins.f32x4Splat,
      ...ins.f32x4Mul,
      ...v128Store(SCORE_HEADER_BYTES),
    ]),
    ...add(n.k3, n.hb),
    ...set(n.kp),
    ...bump(n.s, 4),
  ];
  const oneKey: Code = [
    ...accs.flatMap((row) => [...zeroV, ...set(row[0])]),
    ...i32(0),
    ...set(n.j),
    ...whileLt(n.j, n.hb, [
      ...loadAt(n.kp),
      ...set(v.kv),
      ...accs.flatMap((row, x) => [...loadAt(qps[x]!), ...set(qvs[x]!), ...fmaQK(row[0], qvs[x]!, v.kv)]),
      ...bump(n.j, 16),
    ]),
    ...accs.flatMap((row, x) => [
      ...floatAddr(sps[x]!, n.s),
      ...hsum(row[0]),
      ...get(f.scale),
      ...ins.f32Mul,
      ...f32Store(SCORE_HEADER_BYTES),
    ]),
    ...add(n.kp, n.hb),
    ...set(n.kp),
    ...bump(n.s, 1),
  ];

  return [
    ...i32(0),
    ...set(n.u),
    ...whileLt(n.u, n.U, [
      ...query(get(n.u), n.qa, n.sa),
      ...query(clampU(1), n.qb, n.sb),
      ...get(n.kb),
      ...get(n.s0),
      ...get(n.hb),
      ...ins.i32Mul,
      ...ins.i32Add,
      ...set(n.kp),
      ...i32(0),
      ...set(n.s),
      ...whileLt(n.s, n.kt4, fourKeys),
      ...whileLt(n.s, n.kt, oneKey),
      ...bump(n.u, 2),
    ]),
  ];
}
