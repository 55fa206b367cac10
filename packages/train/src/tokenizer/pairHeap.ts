/** A candidate merge: pair key and the count it had when pushed (stale once the count changes). */
export interface PairEntry {
  readonly key: number;
  readonly count: number;
}

/**
 * Binary max-heap of pair entries under a caller-given order. Counts change all the time during BPE
 * training; rather than update in place, new entries are pushed and stale ones skipped on pop.
 */
export class PairHeap {
  private readonly items: PairEntry[] = [];

  /** `before(a, b)` is true when a should pop first. */
  constructor(private readonly before: (a: PairEntry, b: PairEntry) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(entry: PairEntry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i]!, items[parent]!)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): PairEntry | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(start: number): void {
    const items = this.items;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < items.length && this.before(items[l]!, items[best]!)) best = l;
      if (r < items.length && this.before(items[r]!, items[best]!)) best = r;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }

  private swap(i: number, j: number): void {
    const tmp = this.items[i]!;
    this.items[i] = this.items[j]!;
    this.items[j] = tmp;
  }
}
