import type { AttendedRows } from './attendPass.js';
import type { FastContext, PassRow, RowCall } from './layerPass.js';
import { packRows } from './packRows.js';
import { project, slotRuns, type SlotRun } from './passSlots.js';
import { addRow } from './rowOps.js';

/**
 * EchoAtt ("EchoAtt: Attend, Copy, then Adjust for More Efficient Large Language Models", 2024,
 * arXiv 2409.14595) on the fused kernels: a step that reuses step `source`'s attention maps projects
 * only its values (no q/k projections, RoPE, scores or softmax), stores them in its own KV slot, and
 * applies the probabilities the source kept for the same rows (`ctx.kept`) to them — decode one row,
 * prefill the causal block. Input norm already done; `outRows` as in layerPass.
 */
export function echoAttend(
  ctx: FastContext,
  rows: readonly PassRow[],
  calls: readonly RowCall[],
  runs: readonly SlotRun[],
  source: number,
  outRows?: readonly number[],
): AttendedRows | undefined {
  const { config, ops, scratch: S, profile } = ctx;
  const { hiddenSize: d, numHeads: heads, numKvHeads: kvHeads, headDim: hd } = config;
  const [qDim, kvDim] = [heads * hd, kvHeads * hd];
  const qkvDim = qDim + 2 * kvDim;
  const w = ctx.weights.layers[calls[0]!.call.unique]!;
  let phase = profile.start();
  // v into the qkv scratch's v columns, where packRows and storeValues look for it
  const vAt = S.at('qkv') + (qDim + kvDim) * 4;
  project(ctx, runs, [
    {
      module: 'self_attn.v_proj',
      job: { ...w.v, x: S.at('xn'), y: vAt, rows: kvDim, k: d, T: rows.length, yStride: qkvDim * 4 },
    },
  ]);
  phase = profile.lap('qkv', phase);
  let contexts = storeValues(ctx, rows, calls);
  const positions = ctx.scores(Math.max(...rows.map((r) => r.pos + 1))).positions;
  const kept = ctx.kept(source);
  let outRuns = runs;
  if (outRows) {
    packRows(ctx, outRows);
    packKept(ctx, kept, positions, outRows);
    contexts = outRows.map((t) => contexts[t]!);
    outRuns = slotRuns(outRows.map((t) => calls[t]!));
  }
  phase = profile.lap('rope', phase);
  const T = contexts.length;
  if (T === 0) return undefined;
  ops.echoValues({
    T,
    rowInfo: S.at('rowInfo'),
    heads,
    kvHeads,
    headDim: hd,
    contexts,
    probs: kept,
    probStride: positions * 4,
    out: S.at('att'),
    outStride: qDim * 4,
  });
  profile.lap('attention', phase);
  return { runs: outRuns, T };
}

/**
 * v bias, each row's values into its write slot (keys stay unwritten: nothing reads them) and the
 * row info of its read slot. Returns each row's context. Plain copies: kvHeads·headDim floats a row.
 */
function storeValues(ctx: FastContext, rows: readonly PassRow[], calls: readonly RowCall[]): number[] {
  const { config, ops, scratch: S } = ctx;
  const { numHeads: heads, numKvHeads: kvHeads, headDim: hd } = config;
  const [qDim, kvDim] = [heads * hd, kvHeads * hd];
  const qkvDim = qDim + 2 * kvDim;
  const vBias = ctx.weights.layers[calls[0]!.call.unique]!.vBias;
  const f32 = ops.runtime.f32;
  return rows.map(({ cache, pos }, t) => {
    const { write, read } = calls[t]!;
    const v = (S.at('qkv') >>> 2) + t * qkvDim + qDim + kvDim;
    if (vBias) addRow(f32, v, vBias);
    const headFloats = cache.headStride >>> 2;
    if (write !== undefined) {
      const at = (cache.base(write, 1) >>> 2) + cache.writeIndex(write, pos) * hd;
      for (let g = 0; g < kvHeads; g++) f32.copyWithin(at + g * headFloats, v + g * hd, v + (g + 1) * hd);
    }
    const context = cache.context(read, pos);
    ops.writeRowInfo(S.at('rowInfo'), t, {
      kBase: cache.base(read, 0),
      vBase: cache.base(read, 1),
      context,
      headStride: cache.headStride,
    });
    return context;
  });
}

/** Moves the kept probability rows of `outRows` (ascending) to rows 0, 1, … as packRows moves the rest. */
function packKept(ctx: FastContext, kept: number, positions: number, outRows: readonly number[]): void {
  const f32 = ctx.ops.runtime.f32;
  const width = ctx.config.numHeads * positions; // floats of one row's items
  const base = kept >>> 2;
  for (const [n, t] of outRows.entries())
    if (t !== n) f32.copyWithin(base + n * width, base + t * width, base + (t + 1) * width);
}
