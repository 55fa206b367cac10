import { describe, expect, it } from 'vitest';
import { runScenario } from './scenario.js';

describe('randomized invariants (seeded, ~1,000 steps each)', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: every invariant holds on every plan; every request finishes or is cancelled, exactly once`, () => {
      const { engine, submitted, cancelled } = runScenario(seed);
      expect(submitted.length).toBeGreaterThan(100);
      const finished = [...engine.finished.keys()];
      expect(new Set([...finished, ...cancelled]).size).toBe(finished.length + cancelled.length);
      expect([...finished, ...cancelled].sort()).toEqual([...submitted].sort());
      // Token counts are checked as each request finishes: maxNewTokens, or the fake EOS if earlier.
      const stats = engine.scheduler.stats();
      expect(stats).toMatchObject({ waiting: 0, running: 0, rowsInFlight: 0, kvUsed: 0 });
      expect(stats.finished).toBe(finished.length);
      expect(stats.cancelled).toBe(cancelled.length);
    });
  }
});

describe('determinism', () => {
  it('the same inputs give the same plans, and plans are plain JSON', () => {
    const a = runScenario(42, 400);
    const b = runScenario(42, 400);
    const json = JSON.stringify(a.plans);
    expect(JSON.stringify(b.plans)).toBe(json);
    expect(JSON.parse(json)).toEqual(a.plans);
    expect(a.engine.scheduler.stats()).toEqual(b.engine.scheduler.stats());
  });
});
