import { echoAttend } from './echoPass.js';
import type { FastContext, PassRow, RowCall } from './layerPass.js';
import { packRows } from './packRows.js';
import { norm, project, slotRuns, type SlotRun } from './passSlots.js';
import { ropeAndStore } from './ropePass.js';

/** The rows the rest of a layer pass runs on: their slot runs, and how many (packed to 0..T). */
export interface AttendedRows {
  readonly runs: readonly SlotRun[];
  readonly T: number;
}

/**
 * The attention half of one layer pass: input norm, q/k/v, RoPE and the K/V write for every row, then
 * attention of the rows in `outRows` (all rows when absent; packed to rows 0, 1, …) into the `att`
 * scratch. A step that reuses another's attention maps (EchoAtt) runs `echoAttend` instead; a step whose
 * maps are reused keeps its probabilities where `ctx.kept` says. Undefined when no row is left.
 */
export function attendRows(
  ctx: FastContext,
  rows: readonly PassRow[],
  calls: readonly RowCall[],
  outRows?: readonly number[],
): AttendedRows | undefined {
  const { config, ops, scratch: S, profile } = ctx;
  const { hiddenSize: d, numHeads: heads, numKvHeads: kvHeads, headDim: hd } = config;
  const [qDim, kvDim] = [heads * hd, kvHeads * hd];
  const qkvDim = qDim + 2 * kvDim;
  const { unique } = calls[0]!.call;
  const w = ctx.weights.layers[unique]!;
  const step = echoStep(ctx, calls);
  let runs = slotRuns(calls);
  let phase = profile.start();
  norm(ctx, runs, 'input', w.inputNormAt);
  profile.lap('norm', phase);
  const source = step === undefined ? undefined : ctx.echo.get(step);
  if (source !== undefined) return echoAttend(ctx, rows, calls, runs, source, outRows);
  if (!w.q || !w.k)
    throw new Error(
      `fast path: stored layer ${unique} has no q/k weights (EchoAtt), but a step runs its own attention`,
    );
  phase = profile.start();
  project(ctx, runs, [
    {
      module: 'self_attn.q_proj',
      job: { ...w.q, x: S.at('xn'), y: S.at('qkv'), rows: qDim, k: d, T: rows.length, yStride: qkvDim * 4 },
    },
    {
      module: 'self_attn.k_proj',
      job: { ...w.k, x: S.at('xn'), y: S.at('qkv') + qDim * 4, rows: kvDim, k: d, T: rows.length, yStride: qkvDim * 4 },
    },
    {
      module: 'self_attn.v_proj',
      job: {
        ...w.v,
        x: S.at('xn'),
        y: S.at('qkv') + (qDim + kvDim) * 4,
        rows: kvDim,
        k: d,
        T: rows.length,
        yStride: qkvDim * 4,
      },
    },
  ]);
  phase = profile.lap('qkv', phase);
  let contexts = ropeAndStore(ctx, rows, calls);
  const scores = ctx.scores(Math.max(...rows.map((r) => r.pos + 1)));
  if (outRows) {
    packRows(ctx, outRows);
    contexts = outRows.map((t) => contexts[t]!);
    runs = slotRuns(outRows.map((t) => calls[t]!));
  }
  phase = profile.lap('rope', phase);
  const T = contexts.length;
  if (T === 0) return undefined;
  const keep = step !== undefined && [...ctx.echo.values()].includes(step);
  // every step takes the tiled online-softmax kernel for its prefill runs; an EchoAtt source also
  // leaves its probabilities in its kept rows (the tiled kernel builds them along its running max)
  ops.attentionTiled({
    q: S.at('qkv'),
    qStride: qkvDim * 4,
    T,
    rowInfo: S.at('rowInfo'),
    heads,
    kvHeads,
    headDim: hd,
    contexts,
    scores: scores.offset,
    scoreStride: scores.positions * 4,
    out: S.at('att'),
    outStride: qDim * 4,
    scale: 1 / Math.sqrt(hd),
    ...(keep && { kept: { rows: ctx.kept(step), stride: scores.positions * 4 } }),
  });
  profile.lap('attention', phase);
  return { runs, T };
}

/**
 * The executed step every row runs when the model has an EchoAtt plan (undefined without one). Kept
 * maps belong to one step of the same rows, so a pass mixing steps (per-token depth) cannot use them.
 */
function echoStep(ctx: FastContext, calls: readonly RowCall[]): number | undefined {
  if (ctx.echo.size === 0) return undefined;
  const { step } = calls[0]!.call;
  if (calls.some((c) => c.call.step !== step))
    throw new RangeError('EchoAtt: the fast path runs reused attention maps at full depth only (one step per pass)');
  return step;
}
