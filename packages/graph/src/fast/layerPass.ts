import type { FusedOps, LinearJob } from '@recur/tensor';
import type { AdaptedModule } from '../adapter.js';
import type { DecoderConfig } from '../config.js';
import type { LayerCall } from '../layer.js';
import type { FastAdapters, FastLoopAdapter } from './fastAdapters.js';
import type { FastKvCache } from './fastKvCache.js';
import type { FastProfile } from './fastProfile.js';
import type { FastWeights } from './fastWeights.js';
import { packRows } from './packRows.js';
import { ropeAndStore } from './ropePass.js';
import type { ScratchArena } from './scratch.js';

/** What one pass over the rows needs of the fast decoder: kernels, weights, scratch. */
export interface FastContext {
  readonly config: DecoderConfig;
  readonly ops: FusedOps;
  readonly weights: FastWeights;
  readonly scratch: ScratchArena;
  /**
   * Adapter sets by row adapter id: 0 the model's own (depth-wise LoRA, per-loop norms), k ≥ 1 a
   * per-request set (multi-LoRA serving) that replaces it for the rows that name it. Undefined: none.
   */
  readonly adapters: readonly (FastAdapters | undefined)[];
  /** Low-rank scratch: 7 modules × chunkRows × lowRank floats (byte offset), when there are adapters. */
  readonly low: number;
  /** Largest padded rank of every adapter set (the low-rank scratch's row stride). */
  readonly lowRank: number;
  readonly chunkRows: number;
  /** Rows one LM-head call computes (logits scratch). */
  readonly maxRows: number;
  readonly profile: FastProfile;
  /** Score scratch for contexts up to `positions`. */
  scores(positions: number): { readonly offset: number; readonly positions: number };
}

/** One row of a pass: a position of one sequence, its hidden state at h[t]. */
export interface PassRow {
  readonly cache: FastKvCache;
  readonly pos: number;
}

/** Per row: the executed step it runs (its LoRA / norm slot) and which KV slot it writes (or none) and reads. */
export interface RowCall {
  readonly call: LayerCall;
  /** Slot written, or undefined when the row only reads (recursive KV sharing at loops ≥ 1). */
  readonly write: number | undefined;
  readonly read: number;
  /** Which adapter set the row runs with (default 0: the model's own). */
  readonly adapter?: number;
}

const modules: readonly AdaptedModule[] = [
  'self_attn.q_proj',
  'self_attn.k_proj',
  'self_attn.v_proj',
  'self_attn.o_proj',
  'mlp.gate_proj',
  'mlp.up_proj',
  'mlp.down_proj',
];

/**
 * One decoder layer over the T rows packed at h[0..T): every row runs the same stored layer, each at
 * its own executed step (calls[t]: its KV slot, its depth-wise LoRA and per-loop norms), position and
 * cache. Call `ropeTables` for the rows first. Rows with the same (layer, loop, adapter set) slot
 * should be contiguous: norms and LoRA run once per run of equal slots.
 *
 * `outRows` (ascending row indices; the model's last layer): only these rows' outputs are needed.
 * Every row still writes its K/V, but attention, o, the MLP and their norms run for these rows only,
 * packed to rows 0..outRows.length of the scratch in this order (a 256-token prompt whose last row
 * alone is read skips ≈ 85% of one layer's work).
 */
export function layerPass(
  ctx: FastContext,
  rows: readonly PassRow[],
  calls: readonly RowCall[],
  outRows?: readonly number[],
): void {
  const { config, ops, scratch: S, profile } = ctx;
  const { hiddenSize: d, intermediateSize: ff, numHeads: heads, numKvHeads: kvHeads, headDim: hd } = config;
  let T = rows.length;
  if (T === 0) return;
  const [qDim, kvDim] = [heads * hd, kvHeads * hd];
  const qkvDim = qDim + 2 * kvDim;
  const w = ctx.weights.layers[calls[0]!.call.unique]!;
  let runs = slotRuns(calls);
  let phase = profile.start();
  norm(ctx, runs, 'input', w.inputNormAt);
  phase = profile.lap('norm', phase);
  project(ctx, runs, [
    {
      module: 'self_attn.q_proj',
      job: { ...w.q, x: S.at('xn'), y: S.at('qkv'), rows: qDim, k: d, T, yStride: qkvDim * 4 },
    },
    {
      module: 'self_attn.k_proj',
      job: { ...w.k, x: S.at('xn'), y: S.at('qkv') + qDim * 4, rows: kvDim, k: d, T, yStride: qkvDim * 4 },
    },
    {
      module: 'self_attn.v_proj',
      job: { ...w.v, x: S.at('xn'), y: S.at('qkv') + (qDim + kvDim) * 4, rows: kvDim, k: d, T, yStride: qkvDim * 4 },
    },
  ]);
  phase = profile.lap('qkv', phase);
  let contexts = ropeAndStore(ctx, rows, calls);
  const scores = ctx.scores(Math.max(...rows.map((r) => r.pos + 1)));
  if (outRows) {
    packRows(ctx, outRows);
    contexts = outRows.map((t) => contexts[t]!);
    runs = slotRuns(outRows.map((t) => calls[t]!));
    T = outRows.length;
  }
  phase = profile.lap('rope', phase);
  if (T === 0) return;
  // Plain steps keep no probabilities: prefill runs take the tiled online-softmax kernel.
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
  });
  phase = profile.lap('attention', phase);
  project(ctx, runs, [
    {
      module: 'self_attn.o_proj',
      job: { ...w.o, x: S.at('att'), y: S.at('h'), rows: d, k: qDim, T, accumulate: true },
    },
  ]);
  phase = profile.lap('oProj', phase);
  norm(ctx, runs, 'post', w.postNormAt);
  phase = profile.lap('norm', phase);
  project(ctx, runs, [
    {
      module: 'mlp.gate_proj',
      job: { ...w.gate, x: S.at('xn'), y: S.at('gu'), rows: ff, k: d, T, yStride: 2 * ff * 4 },
    },
    {
      module: 'mlp.up_proj',
      job: { ...w.up, x: S.at('xn'), y: S.at('gu') + ff * 4, rows: ff, k: d, T, yStride: 2 * ff * 4 },
    },
  ]);
  phase = profile.lap('gateUp', phase);
  ops.siluMul({ gate: S.at('gu'), upOffset: ff * 4, n: ff, T, rowStride: 2 * ff * 4 });
  phase = profile.lap('silu', phase);
  project(ctx, runs, [
    {
      module: 'mlp.down_proj',
      job: { ...w.down, x: S.at('gu'), y: S.at('h'), rows: d, k: ff, T, xStride: 2 * ff * 4, accumulate: true },
    },
  ]);
  profile.lap('down', phase);
}

/** [from, to) ranges of rows sharing one (layer, loop, adapter set) slot. */
interface SlotRun {
  readonly from: number;
  readonly to: number;
  readonly call: LayerCall;
  readonly adapter: number;
}

function slotRuns(calls: readonly RowCall[]): SlotRun[] {
  const runs: SlotRun[] = [];
  let from = 0;
  for (let t = 1; t <= calls.length; t++) {
    if (
      t === calls.length ||
      calls[t]!.call.loop !== calls[from]!.call.loop ||
      calls[t]!.call.unique !== calls[from]!.call.unique ||
      (calls[t]!.adapter ?? 0) !== (calls[from]!.adapter ?? 0)
    ) {
      runs.push({ from, to: t, call: calls[from]!.call, adapter: calls[from]!.adapter ?? 0 });
      from = t;
    }
  }
  return runs;
}

/** RMSNorm h → xn, per run with that slot's per-loop weight where the adapters have one. */
function norm(ctx: FastContext, runs: readonly SlotRun[], which: 'input' | 'post', stored: number): void {
  const { config, ops, scratch: S } = ctx;
  const d = config.hiddenSize;
  const weightOf = (run: SlotRun): number => {
    const a = slotOf(ctx, run);
    return (which === 'input' ? a?.inputNormAt : a?.postNormAt) ?? stored;
  };
  // Adjacent runs with the same weight (no per-loop norms) go in one kernel call.
  for (let i = 0; i < runs.length; ) {
    const w = weightOf(runs[i]!);
    let j = i + 1;
    while (j < runs.length && weightOf(runs[j]!) === w) j++;
    const [from, to] = [runs[i]!.from, runs[j - 1]!.to];
    ops.rmsNorm({
      x: S.at('h') + from * d * 4,
      xStride: d * 4,
      out: S.at('xn') + from * d * 4,
      outStride: d * 4,
      w,
      n: d,
      eps: config.rmsNormEps,
      T: to - from,
    });
    i = j;
  }
}

/** The adapters of a run's (layer, loop) in its adapter set, if any. */
function slotOf(ctx: FastContext, run: SlotRun): FastLoopAdapter | undefined {
  return ctx.adapters[run.adapter]?.at(run.call.unique, run.call.loop);
}

/**
 * Base linears over all rows, then each run's LoRA: low = A·x, y += (scale·B)·low. Runs of different
 * adapter sets (multi-LoRA serving, in the manner of S-LoRA / Punica: Sheng et al. 2023, arXiv
 * 2311.03285; Chen et al. 2023, arXiv 2310.18547) share the base linears and add only their own
 * low-rank jobs, so a batch of rows with N adapters costs the base pass plus each row's own LoRA.
 */
function project(
  ctx: FastContext,
  runs: readonly SlotRun[],
  base: readonly { module: AdaptedModule; job: LinearJob }[],
): void {
  ctx.ops.linear(base.map((b) => b.job));
  if (ctx.lowRank === 0) return;
  const down: LinearJob[] = [];
  const up: LinearJob[] = [];
  for (const run of runs) {
    const slot = slotOf(ctx, run);
    if (!slot) continue;
    const T = run.to - run.from;
    for (const { module, job } of base) {
      const lora = slot.lora.get(module);
      if (!lora) continue;
      const xStride = job.xStride ?? job.k * 4;
      const yStride = job.yStride ?? job.rows * 4;
      const low = ctx.low + (modules.indexOf(module) * ctx.chunkRows + run.from) * ctx.lowRank * 4;
      const lowStride = ctx.lowRank * 4;
      down.push({
        w: lora.a,
        x: job.x + run.from * xStride,
        xStride,
        y: low,
        yStride: lowStride,
        rows: lora.rank,
        k: job.k,
        T,
      });
      up.push({
        w: lora.b,
        x: low,
        xStride: lowStride,
        y: job.y + run.from * yStride,
        yStride,
        rows: job.rows,
        k: lora.rank,
        T,
        accumulate: true,
      });
    }
  }
  for (let i = 0; i < down.length; i += 4) ctx.ops.linear(down.slice(i, i + 4));
  // B jobs of one run may write the same output (q/k/v write disjoint columns; o/down one each), so one per call.
  for (const job of up) ctx.ops.linear([job]);
}
