// Shuffling and seed mixing for training data; the generator itself is @recur/tensor's Mulberry32.
import type { Mulberry32 } from '@recur/tensor';

/** Fisher–Yates permutation of 0..n-1. */
export function shuffledRange(n: number, rng: Mulberry32): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}

/** Mixes a seed with a counter (e.g. the epoch) so each epoch gets an unrelated stream. */
export function mixSeed(seed: number, counter: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(counter >>> 0, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  return (h ^ (h >>> 15)) >>> 0;
}
