/**
 * mulberry32: a tiny seeded PRNG whose whole state is one uint32, so it round-trips through JSON.
 * Not cryptographic; plenty for shuffling training windows and sampling tokens. It lives here, the
 * lowest package both training (@recur/train) and inference (@recur/engine) import, so a `--seed`
 * means the same stream everywhere.
 */
export class Mulberry32 {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  get state(): number {
    return this.s;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }
}
