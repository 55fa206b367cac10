import type { FusedRuntime, tf } from '@recur/tensor';
import type { DepthKvMode } from '../depth/depthKvCache.js';
import type { KvSlotLayout } from '../depth/kvPlan.js';

/** How a slot is filled (see kvPlan: the layouts of the KV modes, shared with the tfjs executor). */
export type FastSlotLayout = KvSlotLayout;

export interface FastKvLayout {
  /** The per-token-depth KV mode the layout was made for (forwardDepth checks it). */
  readonly kvMode?: DepthKvMode;
  /** Per executed step (default: every slot dense). */
  readonly slots?: readonly FastSlotLayout[];
}

/**
 * Keys and values of one sequence for the fast decoder, preallocated in the wasm heap and written in
 * place: one slot per executed layer step (a shared layer run at two depths has two), laid out
 * [step][k | v][kvHead][position][headDim] so each kv head's keys are contiguous for the attention
 * kernels. Capacity grows by doubling (one copy) up to the model's context; `dispose()` frees it.
 */
export class FastKvCache {
  private committed = 0;
  private block: { tensor: tf.Tensor1D; offset: number } | undefined;
  private cap = 0;
  private readonly slots: readonly FastSlotLayout[];
  /** Positions held by each compact slot, ascending (undefined for other slots). */
  private readonly compact: (number[] | undefined)[];
  readonly kvMode: DepthKvMode | undefined;

  constructor(
    private readonly runtime: FusedRuntime,
    readonly numSteps: number,
    readonly kvHeads: number,
    readonly headDim: number,
    readonly maxPositions: number,
    initialCapacity: number,
    layout: FastKvLayout = {},
  ) {
    this.slots = layout.slots ?? Array.from({ length: numSteps }, () => 'dense' as const);
    if (this.slots.length !== numSteps)
      throw new RangeError(`FastKvCache: layout names ${this.slots.length} slots for ${numSteps} steps`);
    this.compact = this.slots.map((s) => (s === 'compact' ? [] : undefined));
    this.kvMode = layout.kvMode;
    this.reserve(Math.min(maxPositions, Math.max(1, initialCapacity)));
  }

  /** Tokens stored (the absolute position of the next token). */
  get length(): number {
    return this.committed;
  }

  /** Positions the cache holds without growing. */
  get capacity(): number {
    return this.cap;
  }

  /** Bytes between kv heads (and between the K block's heads and the V block's). */
  get headStride(): number {
    return this.cap * this.headDim * 4;
  }

  /** Byte offset of K (kv = 0) or V (kv = 1), kv head 0, position 0, of layer step `step`. */
  base(step: number, kv: 0 | 1): number {
    if (!this.block) throw new Error('FastKvCache used after dispose()');
    return this.block.offset + (step * 2 + kv) * this.kvHeads * this.headStride;
  }

  /** Makes room for `positions` tokens in all (copying what is stored when it grows). */
  reserve(positions: number): void {
    if (positions > this.maxPositions)
      throw new RangeError(`the sequence would reach ${positions} tokens; the model's context is ${this.maxPositions}`);
    if (positions <= this.cap) return;
    const cap = Math.min(this.maxPositions, Math.max(positions, 2 * this.cap));
    const next = this.runtime.alloc(this.numSteps * 2 * this.kvHeads * cap * this.headDim);
    const old = this.block;
    if (old && this.committed > 0) {
      const f32 = this.runtime.f32;
      const held = Math.max(this.committed, ...this.compact.map((c) => c?.length ?? 0));
      const [oldHead, newHead, used] = [this.cap * this.headDim, cap * this.headDim, held * this.headDim];
      for (let blockIndex = 0; blockIndex < this.numSteps * 2 * this.kvHeads; blockIndex++) {
        const from = (old.offset >>> 2) + blockIndex * oldHead;
        f32.copyWithin((next.offset >>> 2) + blockIndex * newHead, from, from + used);
      }
    }
    old?.tensor.dispose();
    this.block = next;
    this.cap = cap;
  }

  /** Called once a forward over `tokens` new positions has written every layer step. */
  advance(tokens: number): void {
    this.committed += tokens;
  }

  /**
   * Marks positions 0..positions−1 as held (a depth step writes slots out of order; what is held is
   * what a later growth copies). Never shrinks.
   */
  cover(positions: number): void {
    this.committed = Math.max(this.committed, positions);
  }

  /**
   * Where position `pos`'s keys/values go in slot `step`: entry pos of a dense slot; in a compact slot
   * the next entry, or the last one again when it holds `pos` already (a re-run overwrites in place).
   * Throws when a compact slot already holds a later position, or the slot is unused.
   */
  writeIndex(step: number, pos: number): number {
    const layout = this.slots[step];
    if (layout === 'unused')
      throw new RangeError(`FastKvCache: slot ${step} is never written (recursive KV sharing reads loop 0's)`);
    const list = this.compact[step];
    if (!list) return pos;
    const last = list[list.length - 1];
    if (last === pos) return list.length - 1;
    if (last !== undefined && last > pos)
      throw new RangeError(
        `FastKvCache: slot ${step} holds position ${last}; position ${pos} would be written out of order`,
      );
    if (list.length >= this.cap) throw new RangeError(`FastKvCache: slot ${step} is full (${this.cap} entries)`);
    list.push(pos);
    return list.length - 1;
  }

  /** Entries of slot `step` a row at position `pos` attends to (they are the slot's first ones). */
  context(step: number, pos: number): number {
    const list = this.compact[step];
    if (!list) return pos + 1;
    let [lo, hi] = [0, list.length]; // first entry at a position > pos
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]! <= pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Positions held per slot: all committed ones for dense slots, those that ran the loop for compact ones, none for unused. */
  entriesPerStep(): number[] {
    return this.slots.map((s, step) =>
      s === 'dense' ? this.committed : s === 'compact' ? this.compact[step]!.length : 0,
    );
  }

  /** Floats the held entries take (what a compact allocation would need; DepthKvCache.elementCount's measure). */
  storedElements(): number {
    return this.entriesPerStep().reduce((sum, n) => sum + n, 0) * 2 * this.kvHeads * this.headDim;
  }

  /** Copies position `pos`'s keys and values of every kv head from slot `from` to slot `to`. */
  copyPosition(from: number, to: number, pos: number): void {
    if (pos >= this.cap)
      throw new RangeError(`copyPosition: position ${pos} is beyond the cache's capacity ${this.cap}`);
    if (this.slots[from] !== 'dense' || this.slots[to] !== 'dense')
      throw new RangeError(`copyPosition: slots ${from} → ${to} are not both dense`);
    const f32 = this.runtime.f32;
    const hd = this.headDim;
    for (const kv of [0, 1] as const) {
      const [src, dst] = [this.base(from, kv) >>> 2, this.base(to, kv) >>> 2];
      for (let g = 0; g < this.kvHeads; g++) {
        const at = g * (this.headStride >>> 2) + pos * hd;
        f32.copyWithin(dst + at, src + at, src + at + hd);
      }
    }
  }

  /** Forgets every position (the memory is kept for reuse). */
  clear(): void {
    this.committed = 0;
    for (const list of this.compact) list?.splice(0);
  }

  /** Floats allocated, for memory reports (every slot at full capacity; see storedElements). */
  elementCount(): number {
    return this.numSteps * 2 * this.kvHeads * this.cap * this.headDim;
  }

  dispose(): void {
    this.block?.tensor.dispose();
    this.block = undefined;
    this.cap = 0;
    this.committed = 0;
    for (const list of this.compact) list?.splice(0);
  }
}
