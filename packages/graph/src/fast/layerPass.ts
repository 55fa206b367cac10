import type { FusedOps, LinearJob } from '@recur/tensor';
import type { AdaptedModule } from '../adapter.js';
import type { DecoderConfig } from '../config.js';
import type { LayerCall } from '../layer.js';
import type { FastAdapters } from './fastAdapters.js';
import type { FastKvCache } from './fastKvCache.js';
import type { FastProfile } from './fastProfile.js';
import type { FastWeights } from './fastWeights.js';
import { addRow, ropeRow } from './rowOps.js';
import type { ScratchArena } from './scratch.js';

/** What one pass over the rows needs of the fast decoder: kernels, weights, scratch. */
export interface FastContext {
  readonly config: DecoderConfig;
  readonly ops: FusedOps;
  readonly weights: FastWeights;
  readonly scratch: ScratchArena;
  readonly adapters: FastAdapters | undefined;
  /** Low-rank scratch: 7 modules × chunkRows × maxRank floats (byte offset), when there are adapters. */
  readonly low: number;
  readonly chunkRows: number;
  /** Rows one LM-head call computes (logits scratch). */
  readonly maxRows: number;
  readonly ropeCos: Float32Array;
  readonly ropeSin: Float32Array;
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

/** cos/sin of each row's position into the context's tables, float32 as the tfjs op's (angles in float64). */
export function ropeTables(ctx: FastContext, rows: readonly PassRow[]): void {
  const half = ctx.config.headDim / 2;
  const invFreq = ctx.weights.invFreq;
  for (const [t, row] of rows.entries()) {
    for (let i = 0; i < half; i++) {
      const angle = row.pos * invFreq[i]!;
      ctx.ropeCos[t * half + i] = Math.cos(angle);
      ctx.ropeSin[t * half + i] = Math.sin(angle);
    }
  }
}

/**
 * One decoder layer over the T rows packed at h[0..T): every row runs the same stored layer, each at
 * its own executed step (calls[t]: its KV slot, its depth-wise LoRA and per-loop norms), position and
 * cache. Call `ropeTables` for the rows first. Rows with the same (layer, loop) slot should be
 * contiguous: norms and LoRA run once per run of equal slots.
 */
export function layerPass(ctx: FastContext, rows: readonly PassRow[], calls: readonly RowCall[]): void {
  const { config, ops, scratch: S, profile } = ctx;
  const { hiddenSize: d, intermediateSize: ff, numHeads: heads, numKvHeads: kvHeads, headDim: hd } = config;
  const T = rows.length;
  if (T === 0) return;
  const [qDim, kvDim] = [heads * hd, kvHeads * hd];
  const qkvDim = qDim + 2 * kvDim;
  const w = ctx.weights.layers[calls[0]!.call.unique]!;
  const runs = slotRuns(calls);
  let phase = profile.start();
  norm(ctx, runs, 'input', w.inputNormAt);
  phase = profile.lap('norm', phase);
  project(ctx, runs, [
    {
      module: 'self_attn.q_proj',
      job: { w: w.q, x: S.at('xn'), y: S.at('qkv'), rows: qDim, k: d, T, yStride: qkvDim * 4 },
    },
    {
      module: 'self_attn.k_proj',
      job: { w: w.k, x: S.at('xn'), y: S.at('qkv') + qDim * 4, rows: kvDim, k: d, T, yStride: qkvDim * 4 },
    },
    {
      module: 'self_attn.v_proj',
      job: { w: w.v, x: S.at('xn'), y: S.at('qkv') + (qDim + kvDim) * 4, rows: kvDim, k: d, T, yStride: qkvDim * 4 },
    },
  ]);
  phase = profile.lap('qkv', phase);
  const contexts = ropeAndStore(ctx, rows, calls);
  phase = profile.lap('rope', phase);
  const scores = ctx.scores(Math.max(...rows.map((r) => r.pos + 1)));
  ops.attention({
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
      job: { w: w.o, x: S.at('att'), y: S.at('h'), rows: d, k: qDim, T, accumulate: true },
    },
  ]);
  phase = profile.lap('oProj', phase);
  norm(ctx, runs, 'post', w.postNormAt);
  phase = profile.lap('norm', phase);
  project(ctx, runs, [
    {
      module: 'mlp.gate_proj',
      job: { w: w.gate, x: S.at('xn'), y: S.at('gu'), rows: ff, k: d, T, yStride: 2 * ff * 4 },
    },
    {
      module: 'mlp.up_proj',
      job: { w: w.up, x: S.at('xn'), y: S.at('gu') + ff * 4, rows: ff, k: d, T, yStride: 2 * ff * 4 },
    },
  ]);
  phase = profile.lap('gateUp', phase);
  ops.siluMul({ gate: S.at('gu'), upOffset: ff * 4, n: ff, T, rowStride: 2 * ff * 4 });
  phase = profile.lap('silu', phase);
  project(ctx, runs, [
    {
      module: 'mlp.down_proj',
      job: { w: w.down, x: S.at('gu'), y: S.at('h'), rows: d, k: ff, T, xStride: 2 * ff * 4, accumulate: true },
    },
  ]);
  profile.lap('down', phase);
}

/** [from, to) ranges of rows sharing one (layer, loop) slot. */
interface SlotRun {
  readonly from: number;
  readonly to: number;
  readonly call: LayerCall;
}

function slotRuns(calls: readonly RowCall[]): SlotRun[] {
  const runs: SlotRun[] = [];
  let from = 0;
  for (let t = 1; t <= calls.length; t++) {
    if (
      t === calls.length ||
      calls[t]!.call.loop !== calls[from]!.call.loop ||
      calls[t]!.call.unique !== calls[from]!.call.unique
    ) {
      runs.push({ from, to: t, call: calls[from]!.call });
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
    const a = ctx.adapters?.at(run.call.unique, run.call.loop);
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

/** Base linears over all rows, then each run's depth-wise LoRA: low = A·x, y += (scale·B)·low. */
function project(
  ctx: FastContext,
  runs: readonly SlotRun[],
  base: readonly { module: AdaptedModule; job: LinearJob }[],
): void {
  ctx.ops.linear(base.map((b) => b.job));
  if (!ctx.adapters) return;
  const down: LinearJob[] = [];
  const up: LinearJob[] = [];
  for (const run of runs) {
    const slot = ctx.adapters.at(run.call.unique, run.call.loop);
    if (!slot) continue;
    const T = run.to - run.from;
    for (const { module, job } of base) {
      const lora = slot.lora.get(module);
      if (!lora) continue;
      const xStride = job.xStride ?? job.k * 4;
      const yStride = job.yStride ?? job.rows * 4;
      const low = ctx.low + (modules.indexOf(module) * ctx.chunkRows + run.from) * ctx.adapters.maxRank * 4;
      const lowStride = ctx.adapters.maxRank * 4;
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

/**
 * Biases, RoPE on q and k, K/V written into each row's write slot (at the entry the cache assigns:
 * the position in a dense slot, the next entry in a recursion-wise one), and each row's attention
 * over its read slot. Returns each row's context (entries attended to).
 */
function ropeAndStore(ctx: FastContext, rows: readonly PassRow[], calls: readonly RowCall[]): number[] {
  const { config, ops, scratch: S } = ctx;
  const { numHeads: heads, numKvHeads: kvHeads, headDim: hd } = config;
  const [qDim, kvDim] = [heads * hd, kvHeads * hd];
  const qkvDim = qDim + 2 * kvDim;
  const w = ctx.weights.layers[calls[0]!.call.unique]!;
  const f32 = ops.runtime.f32;
  const contexts = new Array<number>(rows.length);
  for (const [t, row] of rows.entries()) {
    const q = (S.at('qkv') >>> 2) + t * qkvDim;
    const [k, v] = [q + qDim, q + qDim + kvDim];
    if (w.qBias) addRow(f32, q, w.qBias);
    if (w.kBias) addRow(f32, k, w.kBias);
    if (w.vBias) addRow(f32, v, w.vBias);
    ropeRow(f32, q, heads, hd, ctx.ropeCos, ctx.ropeSin, t * (hd / 2));
    ropeRow(f32, k, kvHeads, hd, ctx.ropeCos, ctx.ropeSin, t * (hd / 2));
    const { cache } = row;
    const { write, read } = calls[t]!;
    const headStride = cache.headStride;
    if (write !== undefined) {
      const [kBase, vBase] = [cache.base(write, 0), cache.base(write, 1)];
      const entry = cache.writeIndex(write, row.pos);
      for (let g = 0; g < kvHeads; g++) {
        const at = entry * hd + g * (headStride >>> 2);
        f32.copyWithin((kBase >>> 2) + at, k + g * hd, k + (g + 1) * hd);
        f32.copyWithin((vBase >>> 2) + at, v + g * hd, v + (g + 1) * hd);
      }
    }
    contexts[t] = cache.context(read, row.pos);
    ops.writeRowInfo(S.at('rowInfo'), t, {
      kBase: cache.base(read, 0),
      vBase: cache.base(read, 1),
      context: contexts[t]!,
      headStride,
    });
  }
  return contexts;
}
