import { positionalAttention, tf } from '@recur/tensor';
import { blockSlot, exitCopies } from './kvPlan.js';
import type { AttentionCache } from '../attentionCache.js';
import type { LayerCall } from '../layer.js';
import type { LoopStructure } from './loopStructure.js';

/**
 * What a loop's attention sees when tokens run different numbers of loops (Mixture-of-Recursions,
 * Bae et al. 2025, arXiv 2507.10524, §2.3, and our decode-time rule for early exit):
 * - 'recursion-wise': a loop's cache holds only the tokens that ran that loop; attention at loop r is
 *   among them (MoR's recursion-wise caching). A token that left early is absent from deeper loops.
 * - 'copy': a token that leaves after depth d has its depth-d keys/values copied into every deeper
 *   loop's slot (the exit state carried forward, as in CALM-style state propagation), so deeper
 *   tokens still see it; memory as vanilla, no compute.
 * - 'shared': only loop 0 writes; every loop of the block attends to loop 0's keys/values of the same
 *   block layer (MoR's recursive KV sharing). Exits need nothing.
 * Prologue and epilogue layers (MIDDLE-CYCLE's unique first/last) always keep their own slots.
 */
export type DepthKvMode = 'recursion-wise' | 'copy' | 'shared';
export const depthKvModes: readonly DepthKvMode[] = ['recursion-wise', 'copy', 'shared'];

interface Slot {
  positions: number[];
  k?: tf.Tensor3D; // [S, nKvHeads, headDim]
  v?: tf.Tensor3D; // [S, nKvHeads, headDim]
}

/** Keys/values of one sequence under per-token depth, each row tagged with its position. */
export class DepthKvCache implements AttentionCache {
  private readonly slots: Slot[];
  /** Loop and block index of each block step (prologue/epilogue steps are absent). */
  private readonly place = new Map<number, { loop: number; j: number }>();
  private committed = 0;

  constructor(
    readonly structure: LoopStructure,
    readonly mode: DepthKvMode,
  ) {
    if (!depthKvModes.includes(mode))
      throw new RangeError(`unknown KV mode "${mode}" (expected ${depthKvModes.join(', ')})`);
    const steps = [...structure.prologue, ...structure.loops.flat(), ...structure.epilogue];
    this.slots = Array.from({ length: steps.length }, () => ({ positions: [] }));
    structure.loops.forEach((loop, r) => loop.forEach((call, j) => this.place.set(call.step, { loop: r, j })));
  }

  /** Positions committed so far (the position of the next new token). */
  get length(): number {
    return this.committed;
  }

  /** Called once a forward over `tokens` new positions has finished. */
  advance(tokens: number): void {
    this.committed += tokens;
  }

  attend(call: LayerCall, q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, positions: Int32Array): tf.Tensor2D {
    const place = this.place.get(call.step);
    const { write, read } = place
      ? blockSlot(this.structure, this.mode, place.loop, place.j)
      : { write: call.step, read: call.step };
    if (write !== undefined) this.write(write, Array.from(positions), k, v);
    const slot = this.slots[read]!;
    if (!slot.k || !slot.v) throw new Error(`DepthKvCache: loop 0 of block layer ${place?.j} has no keys yet`);
    return positionalAttention(q, slot.k, slot.v, { queryPositions: positions, keyPositions: slot.positions });
  }

  /**
   * Tokens at `positions` stop after `depth` loops (1..N). Under 'copy' their keys/values of loop
   * depth−1 are written into every deeper loop's slot; the other modes need nothing.
   */
  exit(positions: ArrayLike<number>, depth: number): void {
    const copies = exitCopies(this.structure, this.mode, depth);
    if (copies.length === 0 || positions.length === 0) return;
    const wanted = Array.from(positions);
    for (const { from, to } of copies) {
      const source = this.slots[from]!;
      const rows = wanted.map((p) => {
        const row = source.positions.indexOf(p);
        if (row < 0) throw new RangeError(`exit: position ${p} has no keys at loop ${depth - 1}`);
        return row;
      });
      tf.tidy(() => {
        const index = tf.tensor1d(rows, 'int32');
        // [E, nKvHeads, headDim]
        const [k, v] = [tf.gather(source.k!, index) as tf.Tensor3D, tf.gather(source.v!, index) as tf.Tensor3D];
        this.write(to, wanted, k, v);
      });
    }
  }

  /** Rows stored in each slot, by executed step (for memory accounting and tests). */
  entriesPerStep(): number[] {
    return this.slots.map((s) => s.positions.length);
  }

  /** Rows stored in the looped block's slots only: Σ over loops and block layers. */
  blockEntries(): number {
    return [...this.place.keys()].reduce((sum, step) => sum + this.slots[step]!.positions.length, 0);
  }

  /** Floats held. */
  elementCount(): number {
    return this.slots.reduce((sum, s) => sum + (s.k?.size ?? 0) + (s.v?.size ?? 0), 0);
  }

  dispose(): void {
    for (const slot of this.slots) {
      slot.k?.dispose();
      slot.v?.dispose();
      slot.k = slot.v = undefined;
      slot.positions = [];
    }
    this.committed = 0;
  }

  /** Stores rows (replacing rows already held for the same positions, e.g. a re-run probe). */
  private write(step: number, positions: number[], k: tf.Tensor3D, v: tf.Tensor3D): void {
    const slot = this.slots[step]!;
    const incoming = new Set(positions);
    const keep = slot.positions.flatMap((p, row) => (incoming.has(p) ? [] : [row]));
    const [oldK, oldV] = [slot.k, slot.v];
    const kept = (t: tf.Tensor3D | undefined): tf.Tensor3D[] =>
      !t || keep.length === 0
        ? []
        : keep.length === slot.positions.length
          ? [t]
          : [tf.gather(t, tf.tensor1d(keep, 'int32')) as tf.Tensor3D];
    slot.k = tf.keep(tf.tidy(() => tf.concat([...kept(oldK), k], 0))); // [S', nKvHeads, headDim]
    slot.v = tf.keep(tf.tidy(() => tf.concat([...kept(oldV), v], 0)));
    slot.positions = [...keep.map((row) => slot.positions[row]!), ...positions];
    oldK?.dispose();
    oldV?.dispose();
  }
}
