import type { FusedRuntime, tf } from '@recur/tensor';

/** Named float32 buffers carved from one kept heap tensor, allocated once. */
export class ScratchArena<K extends string = string> {
  private readonly block: { tensor: tf.Tensor1D; offset: number };
  private readonly offsets = new Map<K, number>();

  constructor(runtime: FusedRuntime, sizes: Readonly<Record<K, number>>) {
    // Each buffer starts on a 64-byte line so two threads writing neighbouring buffers never share one.
    const padded = (n: number): number => Math.ceil(n / 16) * 16;
    const total = Object.values<number>(sizes).reduce((a, n) => a + padded(n), 16);
    this.block = runtime.alloc(total);
    let at = Math.ceil(this.block.offset / 64) * 64;
    for (const [name, n] of Object.entries(sizes) as [K, number][]) {
      this.offsets.set(name, at);
      at += padded(n) * 4;
    }
  }

  /** Byte offset of buffer `name`. */
  at(name: K): number {
    return this.offsets.get(name)!;
  }

  dispose(): void {
    this.block.tensor.dispose();
  }
}
