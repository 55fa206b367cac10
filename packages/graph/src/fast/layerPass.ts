import type { FusedOps } from '@recur/tensor';
import type { DecoderConfig } from '../config.js';
import type { LayerCall } from '../layer.js';
import { attendRows } from './attendPass.js';
import type { FastAdapters } from './fastAdapters.js';
import type { FastKvCache } from './fastKvCache.js';
import type { FastProfile } from './fastProfile.js';
import type { FastWeights } from './fastWeights.js';
import { norm, project } from './passSlots.js';
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
  /**
   * EchoAtt (arXiv 2409.14595): executed step → the earlier step whose attention probabilities it
   * applies to its own values (empty without a plan; see echoSources).
   */
  readonly echo: ReadonlyMap<number, number>;
  /**
   * Where source step `step` keeps its probabilities for the current rows (byte offset): rows laid out
   * as the score scratch (item (t, h) at (t·heads + h)·positions floats, positions as `scores` last gave).
   */
  kept(step: number): number;
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
  const { hiddenSize: d, intermediateSize: ff } = config;
  if (rows.length === 0) return;
  const w = ctx.weights.layers[calls[0]!.call.unique]!;
  const attended = attendRows(ctx, rows, calls, outRows);
  if (!attended) return;
  const { runs, T } = attended;
  let phase = profile.start();
  project(ctx, runs, [
    {
      module: 'self_attn.o_proj',
      job: { ...w.o, x: S.at('att'), y: S.at('h'), rows: d, k: config.numHeads * config.headDim, T, accumulate: true },
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
