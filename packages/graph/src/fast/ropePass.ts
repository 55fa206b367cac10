import type { FastContext, PassRow, RowCall } from './layerPass.js';
import { addRow } from './rowOps.js';

/**
 * cos/sin of each row's position into the heap's rope table (row t at `rope` + t·headDim floats:
 * headDim/2 cosines, then the sines), float32 as the tfjs op's (angles in float64).
 */
export function ropeTables(ctx: FastContext, rows: readonly PassRow[]): void {
  const hd = ctx.config.headDim;
  const half = hd / 2;
  const invFreq = ctx.weights.invFreq;
  const f32 = ctx.ops.runtime.f32;
  const table = ctx.scratch.at('rope') >>> 2;
  for (const [t, row] of rows.entries()) {
    for (let i = 0; i < half; i++) {
      const angle = row.pos * invFreq[i]!;
      f32[table + t * hd + i] = Math.cos(angle);
      f32[table + t * hd + half + i] = Math.sin(angle);
    }
  }
}

/**
 * Biases, RoPE on q and k, K/V written into each row's write slot (at the entry the cache assigns:
 * the position in a dense slot, the next entry in a recursion-wise one), and each row's attention
 * over its read slot. Returns each row's context (entries attended to). The bookkeeping runs here,
 * the rotations and copies in one ropeStore job.
 */
export function ropeAndStore(ctx: FastContext, rows: readonly PassRow[], calls: readonly RowCall[]): number[] {
  const { config, ops, scratch: S } = ctx;
  const { numHeads: heads, numKvHeads: kvHeads, headDim: hd } = config;
  const [qDim, kvDim] = [heads * hd, kvHeads * hd];
  const qkvDim = qDim + 2 * kvDim;
  const w = ctx.weights.layers[calls[0]!.call.unique]!;
  const contexts = new Array<number>(rows.length);
  if (w.qBias || w.kBias || w.vBias) {
    const f32 = ops.runtime.f32;
    for (let t = 0; t < rows.length; t++) {
      const q = (S.at('qkv') >>> 2) + t * qkvDim;
      if (w.qBias) addRow(f32, q, w.qBias);
      if (w.kBias) addRow(f32, q + qDim, w.kBias);
      if (w.vBias) addRow(f32, q + qDim + kvDim, w.vBias);
    }
  }
  for (const [t, row] of rows.entries()) {
    const { cache } = row;
    const { write, read } = calls[t]!;
    const headStride = cache.headStride;
    if (write !== undefined) {
      const [kBase, vBase] = [cache.base(write, 0), cache.base(write, 1)];
      const at = cache.writeIndex(write, row.pos) * hd * 4;
      ops.writeKv(S.at('kvWrite'), t, { k: kBase + at, v: vBase + at, headStride });
    } else ops.writeKv(S.at('kvWrite'), t, undefined);
    contexts[t] = cache.context(read, row.pos);
    ops.writeRowInfo(S.at('rowInfo'), t, {
      kBase: cache.base(read, 0),
      vBase: cache.base(read, 1),
      context: contexts[t]!,
      headStride,
    });
  }
  ops.ropeStore({
    qkv: S.at('qkv'),
    qkvStride: qkvDim * 4,
    T: rows.length,
    heads,
    kvHeads,
    headDim: hd,
    rope: S.at('rope'),
    kvWrite: S.at('kvWrite'),
  });
  return contexts;
}
