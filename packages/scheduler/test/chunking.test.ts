import { describe, expect, it } from 'vitest';
import { Scheduler } from '../src/index.js';
import { isRunnable, newRequestState } from '../src/requestState.js';
import { FakeEngine, brief, req } from './fakeEngine.js';

describe('chunked prefill', () => {
  it('splits a prompt into chunks and pipelines them across depths', () => {
    const engine = new FakeEngine(new Scheduler({ maxDepth: 2, prefillChunk: 4, tokenBudgetPerStep: 16 }));
    engine.submit(req('a', 10, 1));
    const plans = [1, 2, 3, 4].map(() => brief(engine.step()));
    expect(plans).toEqual([
      ['a[0,4)d0'],
      ['a[0,4)d1', 'a[4,8)d0'], // chunk 2 at depth 0 reads chunk 1's depth-0 KV, written last step
      ['a[4,8)d1', 'a[8,10)d0'],
      ['a[8,10)d1'], // the last chunk samples on exit: maxNewTokens 1 ends the request
    ]);
    expect(engine.finished.get('a')).toEqual({ requestId: 'a', generated: 1, reason: 'length' });
  });

  it('marks only the chunk that ends the prompt as sampling', () => {
    const engine = new FakeEngine(new Scheduler({ maxDepth: 1, prefillChunk: 3, tokenBudgetPerStep: 8 }));
    engine.submit(req('a', 7, 1));
    const rows = [engine.step(), engine.step(), engine.step()].flatMap((p) => p.rows);
    expect(rows.map((r) => [r.start, r.end, r.samplesOnExit])).toEqual([
      [0, 3, false],
      [3, 6, false],
      [6, 7, true],
    ]);
  });

  it('sizes a chunk to the tokens left in the step', () => {
    const engine = new FakeEngine(new Scheduler({ maxDepth: 1, prefillChunk: 4, tokenBudgetPerStep: 6 }));
    engine.submit(req('a', 4, 1));
    engine.submit(req('b', 8, 1));
    expect(brief(engine.step())).toEqual(['a[0,4)d0', 'b[0,2)d0']);
    expect(brief(engine.step())).toEqual(['b[2,6)d0']);
  });

  it('holds a chunk back while an earlier chunk has not run its depth (dependency rule)', () => {
    // Budget 4 = one chunk: chunk 2 may not start before chunk 1 left depth 0, and it cannot overtake.
    const engine = new FakeEngine(new Scheduler({ maxDepth: 2, prefillChunk: 4, tokenBudgetPerStep: 4 }));
    engine.submit(req('a', 8, 1));
    const plans = [1, 2, 3, 4].map(() => brief(engine.step()));
    expect(plans).toEqual([['a[0,4)d0'], ['a[0,4)d1'], ['a[4,8)d0'], ['a[4,8)d1']]);
  });

  it('lets a later chunk run a depth its earlier chunk exited before', () => {
    const exitDepth = (row: { start: number }): number => (row.start === 0 ? 0 : 2);
    const engine = new FakeEngine(new Scheduler({ maxDepth: 3, prefillChunk: 2, tokenBudgetPerStep: 8 }), {
      exitDepth,
    });
    engine.submit(req('a', 4, 1));
    expect([1, 2, 3, 4].map(() => brief(engine.step()))).toEqual([
      ['a[0,2)d0'], // exits at depth 0 (the engine copies its state forward)
      ['a[2,4)d0'],
      ['a[2,4)d1'],
      ['a[2,4)d2'],
    ]);
  });

  it('isRunnable: every earlier live span must be past the depth', () => {
    const state = newRequestState(req('a', 12, 1), 0);
    const first = { start: 0, end: 4, depth: 2, kind: 'prefill' as const, samplesOnExit: false };
    const second = { start: 4, end: 8, depth: 1, kind: 'prefill' as const, samplesOnExit: false };
    state.segments = [first, second];
    expect(isRunnable(state, second)).toBe(true);
    second.depth = 2;
    expect(isRunnable(state, second)).toBe(false);
    expect(isRunnable(state, first)).toBe(true);
  });
});
