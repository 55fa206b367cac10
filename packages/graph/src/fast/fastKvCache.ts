import type { FusedRuntime, tf } from '@recur/tensor';

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

  constructor(
    private readonly runtime: FusedRuntime,
    readonly numSteps: number,
    readonly kvHeads: number,
    readonly headDim: number,
    readonly maxPositions: number,
    initialCapacity: number,
  ) {
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
    if (positions > this.maxPositions) throw new RangeError(`the sequence would reach ${positions} tokens; the model's context is ${this.maxPositions}`);
    if (positions <= this.cap) return;
    const cap = Math.min(this.maxPositions, Math.max(positions, 2 * this.cap));
    const next = this.runtime.alloc(this.numSteps * 2 * this.kvHeads * cap * this.headDim);
    const old = this.block;
    if (old && this.committed > 0) {
      const f32 = this.runtime.f32;
      const [oldHead, newHead, used] = [this.cap * this.headDim, cap * this.headDim, this.committed * this.headDim];
      for (let blockIndex = 0; blockIndex < this.numSteps * 2 * this.kvHeads; blockIndex++) {
        const from = (old.offset >> 2) + blockIndex * oldHead;
        f32.copyWithin((next.offset >> 2) + blockIndex * newHead, from, from + used);
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

  /** Copies position `pos`'s keys and values of every kv head from slot `from` to slot `to`. */
  copyPosition(from: number, to: number, pos: number): void {
    if (pos >= this.cap) throw new RangeError(`copyPosition: position ${pos} is beyond the cache's capacity ${this.cap}`);
    const f32 = this.runtime.f32;
    const hd = this.headDim;
    for (const kv of [0, 1] as const) {
      const [src, dst] = [this.base(from, kv) >> 2, this.base(to, kv) >> 2];
      for (let g = 0; g < this.kvHeads; g++) {
        const at = g * (this.headStride >> 2) + pos * hd;
        f32.copyWithin(dst + at, src + at, src + at + hd);
      }
    }
  }

  /** Forgets every position (the memory is kept for reuse). */
  clear(): void {
    this.committed = 0;
  }

  /** Floats held, for memory reports. */
  elementCount(): number {
    return this.numSteps * 2 * this.kvHeads * this.cap * this.headDim;
  }

  dispose(): void {
    this.block?.tensor.dispose();
    this.block = undefined;
    this.cap = 0;
    this.committed = 0;
  }
}
