import { describe, expect, it } from 'vitest';
import { Scheduler } from '../src/index.js';
import { FakeEngine, req } from './fakeEngine.js';

const config = { maxDepth: 2, prefillChunk: 2, tokenBudgetPerStep: 8 };
const ids = (engine: FakeEngine, from: number): string[] =>
  engine.plans.slice(from).flatMap((p) => p.rows.map((r) => r.requestId));

describe('cancellation', () => {
  it('a waiting request never runs', () => {
    const engine = new FakeEngine(new Scheduler({ ...config, maxRunning: 1 }));
    engine.submit(req('a', 2, 2));
    engine.submit(req('b', 2, 2));
    engine.step();
    expect(engine.cancel('b')).toBe(true);
    engine.drain();
    expect(ids(engine, 0)).not.toContain('b');
    expect(engine.scheduler.stats()).toMatchObject({ cancelled: 1, finished: 1, waiting: 0, running: 0 });
  });

  it('mid-prefill: frees its KV at once and never reappears', () => {
    const engine = new FakeEngine(new Scheduler(config));
    engine.submit(req('a', 8, 2));
    engine.submit(req('b', 2, 2));
    engine.step();
    engine.step();
    const before = engine.scheduler.stats().kvUsed;
    const held = engine.scheduler.kvOf('a');
    expect(held).toBeGreaterThan(0);
    engine.cancel('a');
    expect(engine.scheduler.stats().kvUsed).toBe(before - held);
    const from = engine.plans.length;
    engine.drain();
    expect(ids(engine, from)).not.toContain('a');
    expect(engine.finished.has('a')).toBe(false);
    expect(engine.scheduler.stats().kvUsed).toBe(0);
  });

  it('mid-decode, while its rows are in the outstanding plan: complete() ignores them', () => {
    const scheduler = new Scheduler({ maxDepth: 1 });
    scheduler.submit(req('a', 2, 5));
    scheduler.submit(req('b', 2, 5));
    scheduler.schedule();
    scheduler.complete({
      rows: [
        { requestId: 'a', start: 0, end: 2, depth: 0, exited: true },
        { requestId: 'b', start: 0, end: 2, depth: 0, exited: true },
      ],
      sampled: [
        { requestId: 'a', finished: false },
        { requestId: 'b', finished: false },
      ],
    });
    const plan = scheduler.schedule();
    expect(plan.rows.map((r) => `${r.requestId}${r.kind}`)).toEqual(['adecode', 'bdecode']);
    scheduler.cancel('a');
    expect(scheduler.stats().kvUsed).toBe(scheduler.kvOf('b'));
    // The engine ran a's row anyway and reports it, with its sample: accepted and ignored.
    scheduler.complete({
      rows: plan.rows.map((r) => ({
        requestId: r.requestId,
        start: r.start,
        end: r.end,
        depth: r.depth,
        exited: true,
      })),
      sampled: [
        { requestId: 'a', finished: false },
        { requestId: 'b', finished: false },
      ],
    });
    expect(scheduler.schedule().rows.map((r) => r.requestId)).toEqual(['b']);
    expect(scheduler.kvOf('a')).toBe(0);
  });

  it('returns false for unknown or finished requests', () => {
    const engine = new FakeEngine(new Scheduler(config));
    engine.submit(req('a', 2, 1));
    engine.drain();
    expect(engine.scheduler.cancel('a')).toBe(false);
    expect(engine.scheduler.cancel('nope')).toBe(false);
  });
});
