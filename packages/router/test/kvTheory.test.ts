import { describe, expect, it } from 'vitest';
import {
  capacityTokens,
  defaultActivePerDepth,
  kvCacheElements,
  kvEntries,
  kvRatio,
  theoreticalKvRatio,
} from '../src/index.js';

describe('KV-cache accounting', () => {
  it('default capacities: recursion-wise (N_r + 1)/(2N_r), sharing 1/N_r of vanilla', () => {
    for (const [n, wise, shared] of [
      [2, 3 / 4, 1 / 2],
      [3, 2 / 3, 1 / 3],
    ] as const) {
      const active = defaultActivePerDepth(12, n);
      expect(kvRatio(active, 'vanilla')).toBe(1);
      expect(kvRatio(active, 'recursionWise')).toBeCloseTo(wise, 12);
      expect(kvRatio(active, 'recursiveSharing')).toBeCloseTo(shared, 12);
      expect(theoreticalKvRatio(n, 'recursionWise')).toBeCloseTo(wise, 12);
      expect(theoreticalKvRatio(n, 'recursiveSharing')).toBeCloseTo(shared, 12);
      // The integer capacities expert-choice really uses agree when T divides evenly.
      const counts = Array.from({ length: n }, (_, r) => capacityTokens(12, r, { numRecursions: n }));
      expect(counts).toEqual(active);
    }
  });

  it('entries and elements from measured per-depth counts', () => {
    expect(kvEntries([10, 7, 2], 'vanilla')).toBe(30);
    expect(kvEntries([10, 7, 2], 'recursionWise')).toBe(19);
    expect(kvEntries([10, 7, 2], 'recursiveSharing')).toBe(10);
    expect(kvCacheElements({ entries: 19, layersPerRecursion: 2, numKvHeads: 4, headDim: 8 })).toBe(19 * 2 * 2 * 4 * 8);
    expect(() => kvEntries([3, 5], 'vanilla')).toThrow(/must not grow/);
    expect(() => kvEntries([], 'vanilla')).toThrow(/no depths/);
  });
});
