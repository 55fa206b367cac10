import { bump, get, i32, i32Load, ins, param, set, whileLt, Locals } from '../../wasm/asm.js';
import { F32, I32, V128, type Code, type KernelFunction } from '../../wasm/encode.js';
import { AttnParams, RowInfo } from './params.js';
import { locate, minU, updateQuery, type TiledLocals } from './attentionTiledUpdate.js';
import { tileScores } from './attentionTiledScores.js';
import { loadScale } from './attentionEmit.js';
import { finishQueries, tileValues } from './attentionTiledValues.js';
import { finishKept, keepTile } from './attentionTiledKeep.js';

/** Query rows of one item: the K/V tile read from L2 once serves TILE_ROWS rows × a group of heads. */
export const TILE_ROWS = 8;
/** Key positions per tile: K and V of a tile (2·32·headDim floats) stay in L1 while every query uses them. */
export const TILE_KEYS = 64;
/** Floats of an item's score row: running max, running sum, the tile's rescale factor, a pad, then TILE_KEYS scores. */
export const TILE_SCORE_FLOATS = TILE_KEYS + 4;

/**
 * Causal grouped-query attention for a run of consecutive rows of one sequence (a prefill chunk),
 * tiled and with an online softmax, in the manner of FlashAttention (Dao et al. 2022, "FlashAttention:
 * Fast and Memory-Efficient Exact Attention with IO-Awareness", arXiv 2205.14135; the running max and
 * sum of Milakov & Gimelshein 2018, arXiv 1805.02867): no score row longer than a tile. An item is
 * (block of TILE_ROWS rows, kv head g); its queries are every head of g's group for every row of the
 * block, and it walks the keys TILE_KEYS at a time: scores of two queries against four keys per step
 * (eight accumulators; each K load serves two queries, each q load four keys), then per query the
 * running max/sum update, then out = out·e^(m_old − m_new) + P·V as a register-tiled product
 * (tileValues). Two queries, not three: twelve accumulators spill on 16 x64 vector registers and ran
 * ≈ 15% slower than the per-row kernel; two run ≈ 15% faster (CPU time, SmolLM shape, 128 rows over 256 keys). Rows of the block share
 * the cache of its first row; row t attends its own context (RowInfo), keys past it are never used.
 * Params: AttnParams, with `Rows` the run's row count and a score row of TILE_SCORE_FLOATS per (t, h); with `Kept`
 * set it also leaves each (t, h)'s softmax probabilities there (attentionTiledKeep: an EchoAtt source).
 */
export function attentionTiled(fma = false): KernelFunction {
  const [p, i0, i1] = [0, 1, 2];
  const L = new Locals(3);
  const n = L.named(
    I32,
    'i',
    'heads',
    'group',
    'hb',
    'kvHeads',
    'rows',
    't0',
    'g',
    'U',
    'u',
    'nmax',
    'kb',
    'vb',
    's0',
    'kt',
    'kt4',
    'qa',
    'qb',
    'sa',
    'sb',
    'kp',
    'k1',
    'k2',
    'k3',
    'j',
    's',
    't',
    'h',
    'cnt',
    'cnt4',
    'sp',
    'op',
    'a',
    'U2',
    'hb64',
    'oa',
    'ob',
    'kr',
    'ks',
    'kn',
    'kn4',
  );
  const v = L.named(V128, 'a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'b3', 'qva', 'qvb', 'kv');
  const w = L.named(V128, 'maxV', 'sumV', 'pv', 'p1', 'p2', 'p3', 'xv', 'nv', 'rv', 'kf');
  const f = L.named(F32, 'scale', 'mOld', 'mNew', 'sum', 'e', 'x', 'en', 'er', 'factor');
  const Lc: TiledLocals = { p, fma, ...n, ...v, ...w, ...f };
  const P = AttnParams;

  // row t's RowInfo pointer
  const rowInfoOf = (t: number): Code => [
    ...get(p),
    ...i32Load(4 * P.RowInfo),
    ...get(t),
    ...i32(4 * RowInfo.Size),
    ...ins.i32Mul,
    ...ins.i32Add,
  ];
  const body: Code = [
    ...param(p, P.Heads, n.heads),
    ...param(p, P.Group, n.group),
    ...param(p, P.HeadBytes, n.hb),
    ...param(p, P.Rows, n.rows),
    ...loadScale(p, P.Scale, f.scale),
    ...get(n.heads),
    ...get(n.group),
    ...ins.i32DivU,
    ...set(n.kvHeads),
    ...get(i0),
    ...set(n.i),
    ...whileLt(n.i, i1, [
      // item → block (t0, nr rows → U queries) and kv head g
      ...get(n.i),
      ...get(n.kvHeads),
      ...ins.i32DivU,
      ...i32(TILE_ROWS),
      ...ins.i32Mul,
      ...set(n.t0),
      ...get(n.i),
      ...get(n.kvHeads),
      ...ins.i32RemU,
      ...set(n.g),
      ...minU([...get(n.rows), ...get(n.t0), ...ins.i32Sub], i32(TILE_ROWS)),
      ...get(n.group),
      ...ins.i32Mul,
      ...set(n.U),
      // the block's cache is its first row's; its last row attends the most keys
      ...rowInfoOf(n.t0),
      ...set(n.a),
      ...get(n.a),
      ...i32Load(4 * RowInfo.KBase),
      ...get(n.g),
      ...get(n.a),
      ...i32Load(4 * RowInfo.HeadStride),
      ...ins.i32Mul,
      ...ins.i32Add,
      ...set(n.kb),
      ...get(n.a),
      ...i32Load(4 * RowInfo.VBase),
      ...get(n.g),
      ...get(n.a),
      ...i32Load(4 * RowInfo.HeadStride),
      ...ins.i32Mul,
      ...ins.i32Add,
      ...set(n.vb),
      ...locate(Lc, [...get(n.U), ...i32(1), ...ins.i32Sub]),
      ...rowInfoOf(n.t),
      ...i32Load(4 * RowInfo.Context),
      ...set(n.nmax),
      ...i32(0),
      ...set(n.s0),
      ...whileLt(n.s0, n.nmax, [
        ...minU([...get(n.nmax), ...get(n.s0), ...ins.i32Sub], i32(TILE_KEYS)),
        ...set(n.kt),
        ...get(n.kt),
        ...i32(~3),
        ...ins.i32And,
        ...set(n.kt4),
        ...tileScores(Lc),
        // softmax update and values, one query at a time
        ...i32(0),
        ...set(n.u),
        ...whileLt(n.u, n.U, [...updateQuery(Lc, rowInfoOf, keepTile(Lc)), ...bump(n.u, 1)]),
        ...tileValues(Lc),
        ...bump(n.s0, TILE_KEYS),
      ]),
      ...finishQueries(Lc, finishKept(Lc, [...rowInfoOf(n.t), ...i32Load(4 * RowInfo.Context)])),
      ...bump(n.i, 1),
    ]),
  ];
  return { name: 'attentionTiled', params: 3, locals: L.types, body };
}
