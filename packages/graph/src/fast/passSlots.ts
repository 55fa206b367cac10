import type { LinearJob } from '@recur/tensor';
import type { AdaptedModule } from '../adapter.js';
import type { LayerCall } from '../layer.js';
import type { FastLoopAdapter } from './fastAdapters.js';
import type { FastContext, RowCall } from './layerPass.js';

const modules: readonly AdaptedModule[] = [
  'self_attn.q_proj',
  'self_attn.k_proj',
  'self_attn.v_proj',
  'self_attn.o_proj',
  'mlp.gate_proj',
  'mlp.up_proj',
  'mlp.down_proj',
];

/** [from, to) ranges of rows sharing one (layer, loop, adapter set) slot. */
export interface SlotRun {
  readonly from: number;
  readonly to: number;
  readonly call: LayerCall;
  readonly adapter: number;
}

export function slotRuns(calls: readonly RowCall[]): SlotRun[] {
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
export function norm(ctx: FastContext, runs: readonly SlotRun[], which: 'input' | 'post', stored: number): void {
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
export function slotOf(ctx: FastContext, run: SlotRun): FastLoopAdapter | undefined {
  return ctx.adapters[run.adapter]?.at(run.call.unique, run.call.loop);
}

/**
 * Base linears over all rows, then each run's LoRA: low = A·x, y += (scale·B)·low. Runs of different
 * adapter sets (multi-LoRA serving, in the manner of S-LoRA / Punica: Sheng et al. 2023, arXiv
 * 2311.03285; Chen et al. 2023, arXiv 2310.18547) share the base linears and add only their own
 * low-rank jobs, so a batch of rows with N adapters costs the base pass plus each row's own LoRA.
 */
export function project(
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
