import { describe, expect, it } from 'vitest';
import { Scheduler } from '../src/index.js';
import { FakeEngine, brief, req } from './fakeEngine.js';

describe('preemption when the KV budget would be exceeded', () => {
  it('preempts the worst-ranked running request, re-admits it at its rank, re-prefills prompt + generated', () => {
    // Vanilla model (N = 1): one KV entry per position. Budget 10; a, b, c hold 4, 2, 2 after prefill.
    const engine = new FakeEngine(new Scheduler({ maxDepth: 1, kvBudget: 10, prefillChunk: 4, tokenBudgetPerStep: 8 }));
    engine.submit(req('a', 4, 4, { arrival: 0 }));
    engine.submit(req('b', 2, 4, { arrival: 1 }));
    engine.submit(req('c', 2, 4, { arrival: 2 }));
    const trace = (): [string[], readonly string[], readonly string[]] => {
      const plan = engine.step();
      return [brief(plan), plan.preempted, plan.admitted];
    };
    expect(trace()).toEqual([['a[0,4)d0', 'b[0,2)d0', 'c[0,2)d0'], [], ['a', 'b', 'c']]);
    // c's token does not fit, and nobody ranks below c: it waits, preempting no one.
    expect(trace()).toEqual([['a[4,5)d0', 'b[2,3)d0'], [], []]);
    // a's token does not fit: c (worst) goes, and is not re-admitted in the step that preempted it.
    expect(trace()).toEqual([['a[5,6)d0', 'b[3,4)d0'], ['c'], []]);
    // again: now b goes; c, the best waiting request, comes back with prompt 2 + 1 generated token.
    expect(trace()).toEqual([['a[6,7)d0', 'c[0,3)d0'], ['b'], ['c']]);
    expect(engine.finished.get('a')?.generated).toBe(4);
    expect(trace()).toEqual([['c[3,4)d0', 'b[0,4)d0'], [], ['b']]); // b: prompt 2 + 2 generated
    engine.drain();
    expect([...engine.finished.values()].map((f) => [f.requestId, f.generated])).toEqual([
      ['a', 4],
      ['c', 4],
      ['b', 4],
    ]);
    expect(engine.scheduler.stats()).toMatchObject({ preemptions: 2, kvUsed: 0, finished: 3 });
  });

  it('never preempts to admit or run something of lower priority', () => {
    const engine = new FakeEngine(new Scheduler({ policy: 'priority', maxDepth: 1, kvBudget: 6, prefillChunk: 4 }));
    engine.submit(req('high', 4, 3, { priority: 0 }));
    engine.step();
    engine.submit(req('low', 2, 1, { priority: 5 })); // needs 2 entries; only 1 is free until high finishes
    expect(brief(engine.step())).toEqual(['high[4,5)d0']);
    expect(brief(engine.step())).toEqual(['high[5,6)d0']);
    expect(engine.finished.has('high')).toBe(true);
    expect(engine.step().admitted).toEqual(['low']);
    expect(engine.plans.every((p) => p.preempted.length === 0)).toBe(true);
  });

  it('a higher-priority arrival preempts a lower-priority running request', () => {
    const engine = new FakeEngine(new Scheduler({ policy: 'priority', maxDepth: 1, kvBudget: 6, prefillChunk: 4 }));
    engine.submit(req('low', 4, 3, { priority: 5 }));
    engine.step();
    engine.submit(req('high', 4, 1, { priority: 0, arrival: 1 }));
    const plan = engine.step();
    // low's decode row was planned first, then dropped with low's KV to admit high.
    expect([brief(plan), plan.preempted, plan.admitted]).toEqual([['high[0,4)d0'], ['low'], ['high']]);
    engine.drain();
    expect(engine.finished.get('low')?.generated).toBe(3);
  });

  it('with KV sharing only depth 0 writes, so the same load needs no preemption', () => {
    const load = (kvMode: 'per-depth' | 'shared-first'): number => {
      const engine = new FakeEngine(new Scheduler({ maxDepth: 3, kvMode, kvBudget: 24, prefillChunk: 4 }));
      for (const id of ['a', 'b', 'c']) engine.submit(req(id, 4, 3));
      engine.drain();
      return engine.scheduler.stats().preemptions;
    };
    expect(load('per-depth')).toBeGreaterThan(0);
    expect(load('shared-first')).toBe(0);
  });
});
