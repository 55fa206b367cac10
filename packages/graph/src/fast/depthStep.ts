import type { LayerCall } from '../layer.js';
import type { LoopStructure } from '../depth/loopStructure.js';
import type { DepthKvMode } from '../depth/depthKvCache.js';
import { blockSlot, exitCopies } from '../depth/kvPlan.js';
import type { FastKvCache } from './fastKvCache.js';
import { layerPass, type FastContext, type PassRow, type RowCall } from './layerPass.js';
import { ropeTables } from './ropePass.js';
import { rmsNormRow } from './rowOps.js';

/**
 * KV of loops a token skipped (it exited at depth d < N), as the tfjs path's DepthKvCache names them:
 * - 'copy': slot(loop r, j)[p] := slot(loop d−1, j)[p] for r ≥ d — the exit state's keys/values carried
 *   forward (memory as vanilla, no compute); every loop writes its own slot.
 * - 'shared': only loop 0 writes (with prologue and epilogue); loops r ≥ 1 attend to loop 0's slot of
 *   the same block layer (Mixture-of-Recursions' recursive KV sharing, Bae et al. 2025 §2.3). Exits need nothing.
 * - 'recursion-wise': each loop's slot holds only the tokens that ran it (compact; the cache must be made
 *   for it: newCache(capacity, 'recursion-wise')), so deeper loops attend among those (MoR §2.3). Exits need nothing.
 */
export type FastDepthKvMode = DepthKvMode;

/** One position at one loop of one batched depth step. */
export interface FastDepthRow {
  readonly cache: FastKvCache;
  readonly pos: number;
  /** Loop r (0..N−1) this row runs; loop 0 embeds `id` and runs the prologue first. */
  readonly loop: number;
  readonly id: number;
  /** [d]: read as the state after loop r − 1 (when r > 0), overwritten with the state after loop r. */
  readonly state: Float32Array;
  /** Run the epilogue on the new state (writing its KV at `pos`); with `logits`, also the final norm and LM head into it ([V]). */
  readonly readout?: boolean;
  readonly logits?: Float32Array;
  /** Run no loop: only the readout of `state` as it is (epilogue at `pos`, and head into `logits`); a deferred probe. */
  readonly readoutOnly?: boolean;
  /** Loop-0 rows: [d] written with the state entering loop 0 (after the prologue) — what a router reads first. */
  readonly entry?: Float32Array;
  /** The adapter set this row runs with (FastDecoderOptions.requestAdapters; default 0: the model's own). */
  readonly adapter?: number;
}

/**
 * One step of continuous depth-wise batching (Relaxed Recursive Transformers, Bae et al. 2024 §3.5):
 * rows at different loops run each stored block layer together — the same weights at every depth —
 * each with its own KV slot (its loop's step), position, RoPE, depth-wise LoRA and per-loop norms.
 * Rows are sorted by loop, then adapter set (stable) so equal slots are contiguous, then run in chunks of chunkRows:
 * prologue for the loop-0 rows, the block, then epilogue, final norm and head for the readout rows.
 * A row's outputs do not depend on the other rows (row-wise kernels; causal attention reads only
 * its own cache up to its own position).
 */
export function runDepthStep(
  ctx: FastContext,
  structure: LoopStructure,
  kvMode: FastDepthKvMode,
  rows: readonly FastDepthRow[],
): void {
  const N = structure.loops.length;
  for (const row of rows) {
    const adapter = row.adapter ?? 0;
    if (!Number.isInteger(adapter) || adapter < 0 || adapter >= ctx.adapters.length)
      throw new RangeError(`depth row adapter set ${adapter}: the decoder has sets 0..${ctx.adapters.length - 1}`);
    if (!Number.isInteger(row.loop) || row.loop < 0 || row.loop >= N)
      throw new RangeError(`depth row at loop ${row.loop}: the model has loops 0..${N - 1}`);
    if (row.state.length !== ctx.config.hiddenSize)
      throw new RangeError(`depth row state has ${row.state.length} floats; expected ${ctx.config.hiddenSize}`);
    if (row.entry !== undefined && row.entry.length !== ctx.config.hiddenSize)
      throw new RangeError(`depth row entry has ${row.entry.length} floats; expected ${ctx.config.hiddenSize}`);
    if (kvMode === 'recursion-wise' && row.cache.kvMode !== 'recursion-wise')
      throw new RangeError(
        "depth step: 'recursion-wise' KV needs caches made for it (newCache(capacity, 'recursion-wise'))",
      );
  }
  const reach = new Map<FastKvCache, number>();
  for (const row of rows) reach.set(row.cache, Math.max(reach.get(row.cache) ?? 0, row.pos + 1));
  for (const [cache, positions] of reach) cache.reserve(positions);
  const looped = rows.filter((r) => r.readoutOnly !== true);
  const sorted = looped
    .map((row, i) => ({ row, i }))
    .sort((a, b) => a.row.loop - b.row.loop || (a.row.adapter ?? 0) - (b.row.adapter ?? 0) || a.i - b.i)
    .map((e) => e.row);
  for (let start = 0; start < sorted.length; start += ctx.chunkRows)
    runChunk(ctx, structure, kvMode, sorted.slice(start, start + ctx.chunkRows));
  const only = rows.filter((r) => r.readoutOnly === true);
  for (let start = 0; start < only.length; start += ctx.chunkRows)
    readout(ctx, structure, only.slice(start, start + ctx.chunkRows));
  for (const [cache, positions] of reach) cache.cover(positions);
}

function runChunk(
  ctx: FastContext,
  structure: LoopStructure,
  kvMode: FastDepthKvMode,
  rows: readonly FastDepthRow[],
): void {
  const { config, ops, scratch: S, weights, profile } = ctx;
  const d = config.hiddenSize;
  let phase = profile.start();
  let f32 = ops.runtime.f32;
  const h = S.at('h') >>> 2;
  rows.forEach((row, t) => {
    if (row.loop === 0)
      f32.copyWithin(h + t * d, (weights.embed >>> 2) + row.id * d, (weights.embed >>> 2) + (row.id + 1) * d);
    else f32.set(row.state, h + t * d);
  });
  ropeTables(ctx, rows);
  phase = profile.lap('embed', phase);
  const fresh = rows.filter((r) => r.loop === 0); // a prefix (rows are sorted by loop)
  if (fresh.length > 0)
    for (const call of structure.prologue)
      layerPass(
        ctx,
        fresh,
        fresh.map((row) => own(call, row.adapter)),
      );
  f32 = ops.runtime.f32; // the heap may have grown
  fresh.forEach((row, t) => row.entry?.set(f32.subarray(h + t * d, h + (t + 1) * d)));
  structure.block.forEach((_, j) =>
    layerPass(
      ctx,
      rows,
      rows.map((row) => ({ ...blockCall(structure, kvMode, row.loop, j), adapter: row.adapter ?? 0 })),
    ),
  );
  f32 = ops.runtime.f32;
  rows.forEach((row, t) => row.state.set(f32.subarray(h + t * d, h + (t + 1) * d)));
  readout(
    ctx,
    structure,
    rows.filter((r) => r.readout === true || r.logits !== undefined),
  );
}

/** A prologue/epilogue step: the row writes and reads the step's own slot. */
export const own = (call: LayerCall, adapter = 0): RowCall => ({ call, write: call.step, read: call.step, adapter });

/**
 * Block layer j at loop r under a KV mode: its own slot ('copy'; 'recursion-wise', whose slots the
 * cache keeps compact), or under 'shared' at loops ≥ 1 no write and a read of loop 0's slot.
 */
export function blockCall(structure: LoopStructure, kvMode: DepthKvMode, loop: number, j: number): RowCall {
  return { call: structure.loops[loop]![j]!, ...blockSlot(structure, kvMode, loop, j) };
}

/** A row to read out: its position, state [d], and where its logits go ([V]) when wanted. */
export interface ReadoutRow extends PassRow {
  readonly state: Float32Array;
  readonly logits?: Float32Array | undefined;
  readonly adapter?: number | undefined;
}

/** Epilogue on the rows' states (at most chunkRows, packed at h[0..E)), then final norm and LM head for rows with logits, maxRows at a time. */
export function readout(ctx: FastContext, structure: LoopStructure, rows: readonly ReadoutRow[]): void {
  if (rows.length === 0) return;
  const { config, ops, scratch: S, weights, profile } = ctx;
  const [d, V] = [config.hiddenSize, config.vocabSize];
  const phase = profile.start();
  let f32 = ops.runtime.f32;
  rows.forEach((row, t) => f32.set(row.state, (S.at('h') >>> 2) + t * d));
  const passRows: readonly PassRow[] = rows;
  if (structure.epilogue.length > 0) ropeTables(ctx, passRows);
  for (const call of structure.epilogue)
    layerPass(
      ctx,
      passRows,
      rows.map((row) => own(call, row.adapter)),
    );
  const wanted = rows.flatMap((row, t) => (row.logits ? [{ t, logits: row.logits }] : []));
  const group = ctx.maxRows;
  for (let g = 0; g < wanted.length; g += group) {
    const batch = wanted.slice(g, g + group);
    f32 = ops.runtime.f32;
    batch.forEach(({ t }, n) =>
      rmsNormRow(f32, (S.at('h') >>> 2) + t * d, (S.at('xn') >>> 2) + n * d, weights.finalNorm, config.rmsNormEps),
    );
    ops.linear([{ ...weights.head, x: S.at('xn'), y: S.at('logits'), rows: V, k: d, T: batch.length }]);
    f32 = ops.runtime.f32;
    batch.forEach(({ logits }, n) =>
      logits.set(f32.subarray((S.at('logits') >>> 2) + n * V, (S.at('logits') >>> 2) + (n + 1) * V)),
    );
  }
  profile.lap('head', phase);
}

/** A model run as one loop of all its steps (continuous sequence-wise batching of any model, e.g. a vanilla one). */
export function flatStructure(steps: readonly LayerCall[]): LoopStructure {
  return { prologue: [], loops: [steps], epilogue: [], block: steps.map((s) => s.unique) };
}

/**
 * A position that exited after `depth` loops (1..N−1): under 'copy', its keys/values of loop depth−1
 * are written into the same block layer's slot of every deeper loop. Nothing to do under 'shared' or 'recursion-wise'.
 */
export function copyForward(
  structure: LoopStructure,
  kvMode: FastDepthKvMode,
  cache: FastKvCache,
  pos: number,
  depth: number,
): void {
  for (const { from, to } of exitCopies(structure, kvMode, depth)) cache.copyPosition(from, to, pos);
}
