import type { DepthKvMode } from './depthKvCache.js';
import type { LoopStructure } from './loopStructure.js';

/**
 * The KV rules of per-token depth as data — the one place both executors read them (`DepthKvCache`
 * on tfjs; `FastKvCache` and the fused passes): which slot a block step writes and attends to, how a
 * slot is filled, and where a leaving token's keys go. Slots are executed layer steps.
 * Mixture-of-Recursions, Bae et al. 2025, arXiv 2507.10524, §2.3 (recursion-wise caching, recursive
 * KV sharing); 'copy' is our decode-time rule for early exit.
 */
export interface BlockSlot {
  /** The slot this step writes, or undefined when it only reads ('shared' at loops ≥ 1). */
  readonly write: number | undefined;
  /** The slot its attention reads. */
  readonly read: number;
}

/**
 * How a slot holds positions: 'dense' — entry p is position p; 'compact' — only the positions that
 * ran the slot's loop, ascending (recursion-wise); 'unused' — never written (shared, loops ≥ 1).
 */
export type KvSlotLayout = 'dense' | 'compact' | 'unused';

/** Block layer j at loop r: its own slot, or under 'shared' at r ≥ 1 no write and loop 0's slot read. */
export function blockSlot(structure: LoopStructure, mode: DepthKvMode, loop: number, j: number): BlockSlot {
  const own = structure.loops[loop]![j]!.step;
  return mode === 'shared' && loop > 0
    ? { write: undefined, read: structure.loops[0]![j]!.step }
    : { write: own, read: own };
}

/** Layout of every slot (prologue and epilogue steps always dense: every token runs them). */
export function kvSlotLayouts(stepCount: number, structure: LoopStructure, mode: DepthKvMode): KvSlotLayout[] {
  const layouts = Array.from({ length: stepCount }, (): KvSlotLayout => 'dense');
  structure.loops.forEach((loop, r) => {
    loop.forEach((call, j) => {
      if (mode === 'recursion-wise') layouts[call.step] = 'compact';
      else if (blockSlot(structure, mode, r, j).write === undefined) layouts[call.step] = 'unused';
    });
  });
  return layouts;
}

/**
 * Slot pairs a token that leaves after `depth` loops (1..N) copies its keys/values along: under 'copy'
 * its loop depth−1 keys into the same block layer's slot of every deeper loop; none otherwise.
 */
export function exitCopies(
  structure: LoopStructure,
  mode: DepthKvMode,
  depth: number,
): { readonly from: number; readonly to: number }[] {
  const n = structure.loops.length;
  if (!Number.isInteger(depth) || depth < 1 || depth > n) throw new RangeError(`exit depth ${depth} outside 1..${n}`);
  if (mode !== 'copy') return [];
  return structure.block.flatMap((_, j) =>
    Array.from({ length: n - depth }, (_, i) => ({
      from: structure.loops[depth - 1]![j]!.step,
      to: structure.loops[depth + i]![j]!.step,
    })),
  );
}
