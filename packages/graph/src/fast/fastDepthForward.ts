import type { DepthKvMode } from '../depth/depthKvCache.js';
import { rowRouter, validateDepthRouting, type DepthRouting } from '../depth/depthRouting.js';
import type { LoopStructure } from '../depth/loopStructure.js';
import { blockCall, copyForward, own, readout } from './depthStep.js';
import type { FastKvCache } from './fastKvCache.js';
import { layerPass, type FastContext, type PassRow, type RowCall } from './layerPass.js';
import { ropeTables } from './ropePass.js';

export interface FastDepthForwardOptions {
  /** The sequence's cache; the call appends its T positions after cache.length. */
  readonly cache: FastKvCache;
  /** The router; without one every token runs every loop. */
  readonly routing?: DepthRouting;
  /** What deeper loops see of tokens that left (default: the cache's mode, else 'copy'). 'recursion-wise' needs a cache made for it. */
  readonly kvMode?: DepthKvMode;
  /** Logits of the last row only ([V]). */
  readonly lastOnly?: boolean;
}

export interface FastDepthForwardResult {
  /** [T·V], or [V] with lastOnly. */
  readonly logits: Float32Array;
  /** Loops each row ran, 1..N. */
  readonly depths: Int32Array;
  /** Rows that ran each loop. */
  readonly activePerLoop: readonly number[];
}

/**
 * The per-token-depth forward of @recur/router's depthForward on the fused kernels, step for step:
 * prologue on all rows → loop r on the rows the routing keeps (only rows that ran r − 1), updated
 * 'replace' (no router), 'gated' (h + g·Block(h)) or 'gated-once' (h₀ + g·f^r(h₀) after the loops)
 * → epilogue on all rows at their exit states → final norm and LM head. Each pass runs in chunks of
 * chunkRows rows in position order, so a row's keys are written before any later row attends.
 * KV: 'recursion-wise' writes each loop's compact slot (attention among the tokens that ran it);
 * 'copy' carries a leaving token's last-loop keys into the deeper slots before they run; 'shared'
 * reads loop 0's slot at loops ≥ 1 (Mixture-of-Recursions, Bae et al. 2025, arXiv 2507.10524, §2.3).
 */
export function fastDepthForward(
  ctx: FastContext,
  structure: LoopStructure,
  ids: ArrayLike<number>,
  options: FastDepthForwardOptions,
): FastDepthForwardResult {
  const { cache } = options;
  const { hiddenSize: d, vocabSize: V } = ctx.config;
  const N = structure.loops.length;
  const kvMode = checkKvMode(cache, options.kvMode);
  if (options.routing) validateDepthRouting(options.routing, d, N);
  const T = ids.length;
  const start = cache.length;
  cache.reserve(start + T);
  const all = Int32Array.from({ length: T }, (_, t) => t);
  const h = embed(ctx, ids); // [T·d]
  passRows(ctx, cache, start, all, h, h, structure.prologue.map(own));
  const h0 = options.routing ? h.slice() : h; // the state entering loop 0 ('gated-once' adds to it)
  const router = options.routing && rowRouter(options.routing, d);
  const depths = new Int32Array(T);
  const activePerLoop: number[] = [];
  let candidates: Int32Array = all;
  for (let r = 0; r < N && candidates.length > 0; r++) {
    const choice = router ? router.choose(r, h, candidates) : { selected: candidates, gates: new Float32Array(0) };
    if (r === 0 && choice.selected.length !== T) throw new RangeError('routing: every token runs loop 0 (depth ≥ 1)');
    if (kvMode === 'copy' && r > 0) {
      const kept = new Set(choice.selected);
      for (const t of candidates) if (!kept.has(t)) copyForward(structure, 'copy', cache, start + t, r);
    }
    candidates = choice.selected;
    activePerLoop.push(candidates.length);
    for (const t of candidates) depths[t] = r + 1;
    const out = new Float32Array(candidates.length * d); // [k·d]
    passRows(
      ctx,
      cache,
      start,
      candidates,
      h,
      out,
      structure.block.map((_, j) => blockCall(structure, kvMode, r, j)),
    );
    applyUpdate(h, candidates, out, router?.update === 'gated' ? choice.gates : undefined, d);
  }
  if (router?.update === 'gated-once') gateOnce(h, h0, router.finalGates(), d);
  const logits = new Float32Array((options.lastOnly ? Math.min(1, T) : T) * V);
  const wanted = (t: number): Float32Array | undefined =>
    !options.lastOnly ? logits.subarray(t * V, (t + 1) * V) : t === T - 1 ? logits : undefined;
  for (let from = 0; from < T; from += ctx.chunkRows) {
    const chunk = Array.from(all.subarray(from, from + ctx.chunkRows), (t) => ({
      cache,
      pos: start + t,
      state: h.subarray(t * d, (t + 1) * d),
      logits: wanted(t),
    }));
    readout(ctx, structure, chunk);
  }
  cache.advance(T);
  ctx.profile.count(T);
  return { logits, depths, activePerLoop };
}

function checkKvMode(cache: FastKvCache, asked: DepthKvMode | undefined): DepthKvMode {
  const kvMode = asked ?? cache.kvMode ?? 'copy';
  if (cache.kvMode !== undefined && cache.kvMode !== kvMode)
    throw new RangeError(`forwardDepth: kvMode '${kvMode}' on a cache made for '${cache.kvMode}'`);
  if (kvMode === 'recursion-wise' && cache.kvMode !== 'recursion-wise')
    throw new RangeError(
      "forwardDepth: 'recursion-wise' KV needs a cache made for it (newCache(capacity, 'recursion-wise'))",
    );
  return kvMode;
}

/** The embedding rows of ids: [T·d]. */
function embed(ctx: FastContext, ids: ArrayLike<number>): Float32Array {
  const { hiddenSize: d, vocabSize: V } = ctx.config;
  const f32 = ctx.ops.runtime.f32;
  const table = ctx.weights.embed >>> 2;
  const h = new Float32Array(ids.length * d);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (!Number.isInteger(id) || id < 0 || id >= V)
      throw new RangeError(`token id ${id} is outside the vocabulary (0..${V - 1})`);
    h.set(f32.subarray(table + id * d, table + (id + 1) * d), t * d);
  }
  return h;
}

/**
 * Rows `rows` (ascending) of the call through the layer passes `calls` (one RowCall per pass, the same
 * for every row), chunkRows at a time: states read from src[row], written to dst[j] (dst === src: in place).
 */
function passRows(
  ctx: FastContext,
  cache: FastKvCache,
  start: number,
  rows: Int32Array,
  src: Float32Array,
  dst: Float32Array,
  calls: readonly RowCall[],
): void {
  if (calls.length === 0) return;
  const d = ctx.config.hiddenSize;
  const inPlace = src === dst;
  for (let from = 0; from < rows.length; from += ctx.chunkRows) {
    const chunk = rows.subarray(from, from + ctx.chunkRows);
    const h = ctx.scratch.at('h') >>> 2;
    let f32 = ctx.ops.runtime.f32;
    chunk.forEach((t, i) => f32.set(src.subarray(t * d, (t + 1) * d), h + i * d));
    const pass: PassRow[] = Array.from(chunk, (t) => ({ cache, pos: start + t }));
    ropeTables(ctx, pass);
    for (const call of calls)
      layerPass(
        ctx,
        pass,
        pass.map(() => call),
      );
    f32 = ctx.ops.runtime.f32; // the heap may have grown
    chunk.forEach((t, i) => dst.set(f32.subarray(h + i * d, h + (i + 1) * d), (inPlace ? t : from + i) * d));
  }
}

/** h[t] ← out[j] ('replace'), or h[t] + g_j·out[j] ('gated', float32 as tfjs rounds it), for t = rows[j]. */
function applyUpdate(
  h: Float32Array,
  rows: Int32Array,
  out: Float32Array,
  gates: Float32Array | undefined,
  d: number,
): void {
  rows.forEach((t, j) => {
    if (!gates) return h.set(out.subarray(j * d, (j + 1) * d), t * d);
    const g = gates[j]!;
    for (let i = 0; i < d; i++) h[t * d + i] = h[t * d + i]! + Math.fround(g * out[j * d + i]!);
  });
}

/** h[t] ← h₀[t] + g_t·h[t] for every row (each row's ungated exit state added once, gated). */
function gateOnce(h: Float32Array, h0: Float32Array, gates: Float32Array, d: number): void {
  for (let t = 0; t < gates.length; t++) {
    for (let i = 0; i < d; i++) h[t * d + i] = h0[t * d + i]! + Math.fround(h[t * d + i]! * gates[t]!);
  }
}
