import {
  bump,
  f32Load,
  f32Store,
  floatAddr,
  get,
  i32,
  i32Load,
  ifThen,
  ins,
  lane,
  set,
  v128Load,
  v128Store,
  whileLt,
} from '../../wasm/asm.js';
import type { Code } from '../../wasm/encode.js';
import { AttnParams } from './params.js';
import { local, SCORE_HEADER_BYTES, type TiledLocals } from './attentionTiledUpdate.js';

/*
 * attentionTiled with the params' Kept set: the probabilities an EchoAtt source keeps ("EchoAtt: Attend, Copy, then
 * Adjust for More Efficient Large Language Models", 2024, arXiv 2409.14595), built along the online softmax so the
 * source step keeps the tiled kernel (its score rows hold one tile). Each tile's p = e^(score − m_new) is copied to
 * the item's kept row at the tile's keys after the row's earlier keys are rescaled by f = e^(m_old − m_new), so the
 * kept row always holds e^(score − m) for the running max m; at the end it is scaled by 1 / Σ like out. Extra work
 * per item: one copy and ≈ (tiles + 1)/2 rescales of its context — no exp, no K or V read.
 */

/** Local kr ← the kept row of the located query (t, h): Kept + (t·heads + h)·KeptStride. */
function keptRow(c: TiledLocals): Code {
  const n = (name: string): number => local(c, name);
  return [
    ...get(c.p),
    ...i32Load(4 * AttnParams.Kept),
    ...get(n('t')),
    ...get(n('heads')),
    ...ins.i32Mul,
    ...get(n('h')),
    ...ins.i32Add,
    ...get(c.p),
    ...i32Load(4 * AttnParams.KeptStride),
    ...ins.i32Mul,
    ...ins.i32Add,
    ...set(n('kr')),
  ];
}

/** kept[i] ← kept[i]·splat for i in [ks, n4) four at a time, then [n4, n) one at a time (ks starts at 0). */
function scaleKept(c: TiledLocals, n4: number, n: number, splat: number): Code {
  const [kr, ks, a] = [local(c, 'kr'), local(c, 'ks'), local(c, 'a')];
  const scale = (load: Code, mul: Code, store: Code): Code => [
    ...floatAddr(kr, ks),
    ...set(a),
    ...get(a),
    ...get(a),
    ...load,
    ...get(splat),
    ...mul,
    ...store,
  ];
  return [
    ...i32(0),
    ...set(ks),
    ...whileLt(ks, n4, [...scale(v128Load(), ins.f32x4Mul, v128Store()), ...bump(ks, 4)]),
    ...whileLt(ks, n, [...scale(f32Load(), [...lane(0), ...ins.f32Mul], f32Store()), ...bump(ks, 1)]),
  ];
}

const whenKept = (body: Code, p: number): Code => [...get(p), ...i32Load(4 * AttnParams.Kept), ...ifThen(body)];

/**
 * After query (t, h)'s softmax step on the tile at s0 (its p in the score row sp, cnt of them, factor f): the kept
 * row's keys [0, s0) scaled by f (s0 is a multiple of the tile width, so four at a time), the tile's p copied after.
 */
export function keepTile(c: TiledLocals): Code {
  const n = (name: string): number => local(c, name);
  const [kr, ks, sp, a, kf] = [n('kr'), n('ks'), n('sp'), n('a'), n('kf')];
  const copy = (load: Code, store: Code): Code => [
    // kept[s0 + ks] ← p[ks]
    ...get(n('s0')),
    ...get(ks),
    ...ins.i32Add,
    ...set(a),
    ...floatAddr(kr, a),
    ...floatAddr(sp, ks),
    ...load,
    ...store,
  ];
  return whenKept(
    [
      ...keptRow(c),
      ...get(n('factor')),
      ...ins.f32x4Splat,
      ...set(kf),
      ...scaleKept(c, n('s0'), n('s0'), kf),
      ...i32(0),
      ...set(ks),
      ...whileLt(ks, n('cnt4'), [...copy(v128Load(SCORE_HEADER_BYTES), v128Store()), ...bump(ks, 4)]),
      ...whileLt(ks, n('cnt'), [...copy(f32Load(SCORE_HEADER_BYTES), f32Store()), ...bump(ks, 1)]),
    ],
    c.p,
  );
}

/** At the end of an item, query (t, h) located and local pv the splat of 1 / Σ: its kept row's context scaled by it. */
export function finishKept(c: TiledLocals, context: Code): Code {
  const n = (name: string): number => local(c, name);
  return whenKept(
    [
      ...keptRow(c),
      ...context,
      ...set(n('kn')),
      ...get(n('kn')),
      ...i32(~3),
      ...ins.i32And,
      ...set(n('kn4')),
      ...scaleKept(c, n('kn4'), n('kn'), n('pv')),
    ],
    c.p,
  );
}
