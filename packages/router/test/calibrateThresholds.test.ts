import { describe, expect, it } from 'vitest';
import { Mulberry32 } from '@recur/tensor';
import {
  calibrateThresholds,
  capacityFraction,
  keepThreshold,
  thresholdDecisions,
  thresholdsProblem,
  type CalibrationSample,
} from '../src/index.js';

const kept = (logits: readonly number[], threshold: number): number =>
  thresholdDecisions(logits, threshold).reduce((a, b) => a + b, 0);
const logit = (sigma: number): number => Math.log(sigma / (1 - sigma));

describe('keepThreshold: the σ quantile that keeps exactly k', () => {
  it('cuts halfway (in logit space) between the k-th and (k+1)-th largest logit', () => {
    const logits = [0.3, -1.2, 2.5, 0.9, -0.4]; // descending: 2.5, 0.9, 0.3, −0.4, −1.2
    for (let k = 0; k <= logits.length; k++) expect(kept(logits, keepThreshold(logits, k))).toBe(k);
    expect(logit(keepThreshold(logits, 2))).toBeCloseTo((0.9 + 0.3) / 2, 12);
    expect(logit(keepThreshold(logits, 1))).toBeCloseTo((2.5 + 0.9) / 2, 12);
    expect(logit(keepThreshold(logits, 0))).toBeCloseTo(2.5 + 1, 12); // one logit above the largest
    expect(logit(keepThreshold(logits, 5))).toBeCloseTo(-1.2 - 1, 12);
  });

  it('rounds and clamps k; keeps every count on many random float32 logits', () => {
    const logits = [1, 2, 3, 4];
    expect(kept(logits, keepThreshold(logits, 2.4))).toBe(2);
    expect(kept(logits, keepThreshold(logits, 2.6))).toBe(3);
    expect(kept(logits, keepThreshold(logits, -3))).toBe(0);
    expect(kept(logits, keepThreshold(logits, 99))).toBe(4);
    const rng = new Mulberry32(7);
    // float32, as router logits come
    const random = Array.from(Float32Array.from({ length: 200 }, () => (rng.next() - 0.5) * 8));
    for (const k of [1, 37, 100, 133, 199]) expect(kept(random, keepThreshold(random, k))).toBe(k);
  });

  it('a tie at the cut goes in or out together, whichever count is nearer k (out on a draw)', () => {
    const logits = [3, 1, 1, 1, 0]; // the tied group holds ranks 2..4
    expect(kept(logits, keepThreshold(logits, 2))).toBe(1); // 1 is nearer 2 than 4
    expect(kept(logits, keepThreshold(logits, 3))).toBe(4); // 4 is nearer 3 than 1
    expect(kept([1, 1], keepThreshold([1, 1], 1))).toBe(0); // a draw: out
  });

  it('stays strictly inside (0, 1) for saturated logits; refuses NaN; 0.5 with no logits', () => {
    const t = keepThreshold([80, 90], 2);
    expect(t).toBeGreaterThan(0);
    expect(t).toBeLessThan(1);
    expect(keepThreshold([-90, -80], 0)).toBeGreaterThan(0);
    expect(keepThreshold([-90, -80], 0)).toBeLessThan(1);
    expect(() => keepThreshold([0, NaN], 1)).toThrow(/finite/);
    expect(keepThreshold([], 3)).toBe(0.5);
  });
});

describe('calibrateThresholds: hierarchical, recursion by recursion', () => {
  // A fixed table of logits [N][T]: token t's router logit at recursion r (as if it did not depend on the others).
  const tableSample =
    (table: readonly (readonly number[])[]) =>
    (r: number, thresholds: readonly number[]): CalibrationSample => {
      const tokens = table[0]!.length;
      const alive = Array.from({ length: tokens }, (_, t) => t).filter((t) =>
        thresholds.every((th, q) => q === 0 || kept([table[q]![t]!], th) === 1),
      );
      return { logits: alive.map((t) => table[r]![t]!), tokens };
    };

  it('keeps round((N − r)/N · T) tokens at each recursion, among the survivors of the one before', () => {
    const rng = new Mulberry32(3);
    const tokens = 120;
    const n = 4;
    const table = Array.from({ length: n }, () => Array.from({ length: tokens }, () => rng.next() * 6 - 3));
    const seen: number[][] = [];
    const thresholds = calibrateThresholds(n, (r, earlier) => {
      seen.push([r, earlier.length]);
      return tableSample(table)(r, earlier);
    });
    expect(seen).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]); // in order, each with the thresholds found so far
    expect(thresholds).toHaveLength(n);
    expect(thresholds[0]).toBe(0);
    expect(thresholdsProblem(thresholds, n)).toBeUndefined();
    for (let r = 1; r < n; r++) {
      const runLoopR = table[0]!.filter((_, t) =>
        thresholds.slice(1, r + 1).every((th, q) => kept([table[q + 1]![t]!], th) === 1),
      ).length;
      expect(runLoopR).toBe(Math.round(capacityFraction(r, { numRecursions: n }) * tokens)); // 90, 60, 30
    }
  });

  it('is hierarchical: a token the router would keep at r but that left at r − 1 does not count', () => {
    // Recursion 1 keeps 4 of 6 (tokens 0..3); recursion 2 scores tokens 4, 5 highest, but they already left.
    const table = [
      [0, 0, 0, 0, 0, 0],
      [4, 3, 2, 1, -3, -4],
      [-1, -2, -3, -4, 9, 9],
    ];
    const thresholds = calibrateThresholds(3, tableSample(table));
    expect(kept(table[1]!, thresholds[1]!)).toBe(4);
    expect(logit(thresholds[1]!)).toBeCloseTo(-1, 12);
    expect(logit(thresholds[2]!)).toBeCloseTo(-2.5, 12); // capacity 1/3 of 6 tokens → 2, chosen among tokens 0..3
    expect(kept(table[2]!.slice(0, 4), thresholds[2]!)).toBe(2);
  });
});

describe('thresholdsProblem: what a config may store', () => {
  it('names length, index 0 and out-of-range entries', () => {
    expect(thresholdsProblem([0, 0.4, 0.6], 3)).toBeUndefined();
    expect(thresholdsProblem([0, 0.4], 3)).toMatch(/one threshold per recursion \(3\), got 2/);
    expect(thresholdsProblem([0.5, 0.4], 2)).toMatch(/\[0\] must be 0/);
    expect(thresholdsProblem([0, 1], 2)).toMatch(/\[1\] must be a number in \(0, 1\), got 1/);
    expect(thresholdsProblem([0, null], 2)).toMatch(/\[1\] must be a number/);
    expect(thresholdsProblem('0.5', 2)).toMatch(/array/);
  });
});
