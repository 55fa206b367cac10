import { describe, expect, it } from 'vitest';
import { type KvMode, type RowPlan, Scheduler } from '../src/index.js';
import { FakeEngine, req } from './fakeEngine.js';

// Exit depths by position: prompt chunk [0,3) at 2, chunk [3,6) at 1, decode positions 6 and 7 at 0 and 2.
const exitAt: Record<number, number> = { 0: 2, 3: 1, 6: 0, 7: 2 };
const exitDepth = (row: RowPlan): number => exitAt[row.start] ?? 2;

function peakKv(kvMode: KvMode): { peak: number; after: number } {
  const engine = new FakeEngine(new Scheduler({ maxDepth: 3, prefillChunk: 3, kvMode }), { exitDepth });
  engine.submit(req('a', 6, 3));
  engine.drain();
  return { peak: Math.max(...engine.plans.map((p) => p.kvUsed)), after: engine.scheduler.stats().kvUsed };
}

describe('KV accounting (recursion-wise caching)', () => {
  it('per-depth: one entry per (position, depth) run = Σ (exit depth + 1)', () => {
    // 3·(2+1) + 3·(1+1) + (0+1) + (2+1) = 19; the last sampled token is never run.
    expect(peakKv('per-depth')).toEqual({ peak: 19, after: 0 });
  });

  it('shared-first: only depth 0 writes, one entry per position run', () => {
    expect(peakKv('shared-first')).toEqual({ peak: 8, after: 0 });
  });

  it('refuses a request whose worst case cannot fit the budget', () => {
    const scheduler = new Scheduler({ maxDepth: 3, kvBudget: 23 });
    expect(() => scheduler.submit(req('a', 6, 3))).toThrow(/24 KV entries/); // (6 + 3 − 1) · 3
    expect(() =>
      new Scheduler({ maxDepth: 3, kvBudget: 8, kvMode: 'shared-first' }).submit(req('a', 6, 3)),
    ).not.toThrow();
  });
});
