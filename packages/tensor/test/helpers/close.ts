import { expect } from 'vitest';

/**
 * Max |actual - expected| must be <= tol · max(1, max |expected|): absolute for small values,
 * relative to the output's scale for large ones.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let maxDiff = 0;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] ?? NaN;
    const diff = Math.abs((actual[i] ?? NaN) - e);
    maxDiff = Number.isNaN(diff) ? Infinity : Math.max(maxDiff, diff);
    scale = Math.max(scale, Math.abs(e));
  }
  expect(maxDiff, `max abs diff ${maxDiff} vs allowed ${tol * scale}`).toBeLessThanOrEqual(tol * scale);
}
