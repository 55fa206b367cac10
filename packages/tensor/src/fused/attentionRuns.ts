import { AttnParams, RowInfo, TILE_ROWS, TILE_SCORE_FLOATS, type KernelName } from './kernels/index.js';
import { attentionWork, writeAttentionParams } from './attentionOps.js';
import type { AttentionJob } from './ops.js';
import type { FusedRuntime } from './runtime.js';

/** Rows [from, to) of an attention job, and whether they go to the tiled kernel. */
export interface AttentionRun {
  readonly from: number;
  readonly to: number;
  readonly tiled: boolean;
}

/** From this many consecutive rows of one sequence on, a run takes attentionTiled (fewer: the per-row kernel). */
export const TILED_ATTENTION_MIN_ROWS = TILE_ROWS;

/**
 * The job's rows split into runs of consecutive positions of one cache: row t + 1 continues row t's
 * run when both read the same K/V bases and t + 1 attends exactly one key more (a prefill chunk is
 * one run). Runs of TILED_ATTENTION_MIN_ROWS rows or more are marked tiled; the rows between them
 * (decode rows of a batch, short chunks) form one per-row run. `i32` is the heap, where the job's RowInfo entries are already written.
 */
export function attentionRuns(i32: Int32Array, job: AttentionJob): AttentionRun[] {
  const info = (t: number, field: number): number => i32[(job.rowInfo >>> 2) + t * RowInfo.Size + field]!;
  const continues = (t: number): boolean =>
    info(t, RowInfo.KBase) === info(t - 1, RowInfo.KBase) &&
    info(t, RowInfo.VBase) === info(t - 1, RowInfo.VBase) &&
    info(t, RowInfo.HeadStride) === info(t - 1, RowInfo.HeadStride) &&
    info(t, RowInfo.Context) === info(t - 1, RowInfo.Context) + 1;
  const runs: AttentionRun[] = [];
  let from = 0;
  for (let t = 1; t <= job.T; t++) {
    if (t < job.T && continues(t)) continue;
    const tiled = t - from >= TILED_ATTENTION_MIN_ROWS;
    const previous = runs.at(-1);
    // adjacent per-row runs (e.g. a batch of decode rows) stay one segment: one sync, as `attention`
    if (!tiled && previous && !previous.tiled) runs[runs.length - 1] = { ...previous, to: t };
    else runs.push({ from, to: t, tiled });
    from = t;
  }
  return runs;
}

/**
 * Writes the params of `run` at byte offset `p` (the job's pointers moved to its first row) and
 * returns its pool segment: items (block, kv head) for the tiled kernel, (row, head) otherwise.
 */
export function runSegment(
  runtime: FusedRuntime,
  p: number,
  job: AttentionJob,
  run: AttentionRun,
): { kernel: KernelName; params: number; items: number; chunk: number } {
  const rows = run.to - run.from;
  // the job's pointers moved to the run's first row; kept probabilities go to `kept` (tiled: its Kept param;
  // per-row: the kernel keeps them in its score rows, so those are the kept rows)
  const kept = job.kept && { rows: job.kept.rows + run.from * job.heads * job.kept.stride, stride: job.kept.stride };
  const scores =
    kept && !run.tiled ? kept : { rows: job.scores + run.from * job.heads * job.scoreStride, stride: job.scoreStride };
  writeAttentionParams(runtime, p, {
    ...job,
    q: job.q + run.from * job.qStride,
    rowInfo: job.rowInfo + run.from * RowInfo.Size * 4,
    scores: scores.rows,
    scoreStride: scores.stride,
    out: job.out + run.from * job.outStride,
    keepProbabilities: kept !== undefined && !run.tiled,
    kept: run.tiled ? kept : undefined,
  });
  runtime.i32[(p >>> 2) + AttnParams.Rows] = rows;
  return run.tiled
    ? { kernel: 'attentionTiled', params: p, items: Math.ceil(rows / TILE_ROWS) * job.kvHeads, chunk: 1 }
    : { kernel: 'attention', params: p, items: rows * job.heads, chunk: 1 };
}

/**
 * FusedOps.attentionTiled: the job's runs, up to 4 a pool job, each with its params at `slot(k)`;
 * on the pool's threads when `parallel(work)` says so for the job's multiply-adds.
 */
export function runAttentionTiled(
  runtime: FusedRuntime,
  job: AttentionJob,
  parallel: (work: number) => boolean,
  slot: (k: number) => number,
): void {
  if (job.scoreStride < TILE_SCORE_FLOATS * 4)
    throw new RangeError(`FusedOps.attentionTiled: scoreStride must be ≥ ${TILE_SCORE_FLOATS * 4} bytes`);
  const work = attentionWork(job);
  const runs = attentionRuns(runtime.i32, job);
  for (let r = 0; r < runs.length; r += 4) {
    const segments = runs.slice(r, r + 4).map((run, k) => runSegment(runtime, slot(k), job, run));
    runtime.pool.run(segments, parallel(work));
  }
}
