import { describe, expect, it } from 'vitest';
import { Scheduler, SchedulerError, resolveSchedulerConfig } from '../src/index.js';
import { req } from './fakeEngine.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    if (error instanceof SchedulerError) return error.code;
    throw error;
  }
  return undefined;
};

describe('contract errors', () => {
  it('validates config and requests, naming the field', () => {
    expect(() => resolveSchedulerConfig({ maxDepth: 0 })).toThrow(/maxDepth must be a positive integer/);
    expect(() => resolveSchedulerConfig({ prefillChunk: 64, tokenBudgetPerStep: 32 })).toThrow(/prefillChunk/);
    const scheduler = new Scheduler();
    expect(() => scheduler.submit(req('a', 0, 1))).toThrow(/request a: promptLength must be a positive integer/);
    expect(code(() => scheduler.submit(req('a', 1, 1.5)))).toBe('bad-request');
    scheduler.submit(req('a', 1, 1));
    expect(code(() => scheduler.submit(req('a', 2, 2)))).toBe('duplicate-request');
  });

  it('one plan at a time', () => {
    const scheduler = new Scheduler();
    expect(code(() => scheduler.complete({ rows: [], sampled: [] }))).toBe('no-plan');
    scheduler.submit(req('a', 2, 1));
    scheduler.schedule();
    expect(code(() => scheduler.schedule())).toBe('plan-outstanding');
  });

  it('rejects a result that does not match its plan, and changes nothing when it does', () => {
    const scheduler = new Scheduler({ maxDepth: 2 });
    scheduler.submit(req('a', 2, 3));
    scheduler.submit(req('b', 2, 3));
    scheduler.schedule();
    const row = (id: string, depth: number, exited: boolean) => ({ requestId: id, start: 0, end: 2, depth, exited });
    const bad = [
      { rows: [row('a', 0, false)], sampled: [] }, // b missing
      { rows: [row('a', 0, false), row('b', 0, false), row('b', 0, false)], sampled: [] }, // twice
      { rows: [row('a', 1, false), row('b', 0, false)], sampled: [] }, // wrong depth
      { rows: [row('a', 0, true), row('b', 0, false)], sampled: [] }, // exit without its sample
      // sample without exit
      { rows: [row('a', 0, false), row('b', 0, false)], sampled: [{ requestId: 'a', finished: false }] },
    ];
    for (const result of bad) expect(code(() => scheduler.complete(result))).toBe('bad-result');
    scheduler.complete({ rows: [row('a', 0, false), row('b', 0, false)], sampled: [] });
    scheduler.schedule();
    // A row at the last depth (N − 1 = 1) must exit.
    expect(
      code(() =>
        scheduler.complete({
          rows: [row('a', 1, false), row('b', 1, true)],
          sampled: [{ requestId: 'b', finished: false }],
        }),
      ),
    ).toBe('bad-result');
  });
});
