import { describe, expect, it } from 'vitest';
import { type RowPlan, Scheduler } from '../src/index.js';
import { FakeEngine, brief, req } from './fakeEngine.js';

// N = 3, two rows per step: the CDB setting where an early exit frees a slot.
const config = { maxDepth: 3, maxRowsPerStep: 2, tokenBudgetPerStep: 4, prefillChunk: 1 };

describe('a slot freed by an exit is refilled in the very next plan', () => {
  it('by the next decode token of the request whose token exited', () => {
    const exitDepth = (row: RowPlan): number => (row.requestId === 'b' ? 0 : 2);
    const engine = new FakeEngine(new Scheduler(config), { exitDepth });
    engine.submit(req('a', 1, 3));
    engine.submit(req('b', 1, 3));
    engine.submit(req('c', 1, 3));
    expect(brief(engine.step())).toEqual(['a[0,1)d0', 'b[0,1)d0']); // b exits at depth 0
    expect(brief(engine.step())).toEqual(['a[0,1)d1', 'b[1,2)d0']); // b's next token takes its slot, c waits
    expect(brief(engine.step())).toEqual(['a[0,1)d2', 'b[2,3)d0']);
  });

  it('by admitting a waiting request when a request finished', () => {
    const exitDepth = (row: RowPlan): number => (row.requestId === 'b' ? 0 : 2);
    const engine = new FakeEngine(new Scheduler(config), { exitDepth });
    engine.submit(req('a', 1, 3));
    engine.submit(req('b', 1, 1));
    engine.submit(req('c', 1, 3));
    const first = engine.step();
    expect(brief(first)).toEqual(['a[0,1)d0', 'b[0,1)d0']);
    expect(engine.finished.has('b')).toBe(true);
    const second = engine.step();
    expect(brief(second)).toEqual(['a[0,1)d1', 'c[0,1)d0']);
    expect(second.admitted).toEqual(['c']);
  });

  it('in-flight rows go first, deepest first', () => {
    const engine = new FakeEngine(new Scheduler({ ...config, maxRowsPerStep: 3 }));
    engine.submit(req('a', 1, 2));
    engine.step();
    engine.submit(req('b', 1, 2, { arrival: 1 }));
    engine.step();
    engine.submit(req('c', 1, 2, { arrival: 2 }));
    expect(brief(engine.step())).toEqual(['a[0,1)d2', 'b[0,1)d1', 'c[0,1)d0']);
  });
});

describe('autoregressive rule', () => {
  it('starts a decode token only after the previous token exited: ≤1 decode row per request', () => {
    const engine = new FakeEngine(
      new Scheduler({ maxDepth: 3, maxRowsPerStep: 8, tokenBudgetPerStep: 8, prefillChunk: 4 }),
    );
    engine.submit(req('a', 2, 3));
    const plans = engine.plans;
    engine.drain();
    // prefill 3 steps, then tokens 2 and 3 at 3 steps each; never two rows in one step.
    expect(plans.map(brief)).toEqual([
      ['a[0,2)d0'],
      ['a[0,2)d1'],
      ['a[0,2)d2'],
      ['a[2,3)d0'],
      ['a[2,3)d1'],
      ['a[2,3)d2'],
      ['a[3,4)d0'],
      ['a[3,4)d1'],
      ['a[3,4)d2'],
    ]);
    expect(
      plans
        .flatMap((p) => p.rows)
        .filter((r) => r.kind === 'decode')
        .every((r) => r.samplesOnExit),
    ).toBe(true);
  });

  it('ends at EOS reported by the engine', () => {
    const engine = new FakeEngine(new Scheduler({ maxDepth: 1 }), { eosAt: () => 2 });
    engine.submit(req('a', 3, 10));
    expect(engine.drain()).toBe(2);
    expect(engine.finished.get('a')).toEqual({ requestId: 'a', generated: 2, reason: 'stop' });
  });
});
