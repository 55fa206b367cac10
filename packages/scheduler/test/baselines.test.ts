import { describe, expect, it } from 'vitest';
import { type RowPlan, Scheduler, type ServingMode, baselineConfig } from '../src/index.js';
import { FakeEngine, req } from './fakeEngine.js';

// Four requests with 2-token prompts; b generates 4 tokens, the others 1. Two rows per step.
const limits = { maxRowsPerStep: 2, tokenBudgetPerStep: 4, prefillChunk: 2 };
const load = [
  req('a', 2, 1, { arrival: 0 }),
  req('b', 2, 4, { arrival: 1 }),
  req('c', 2, 1, { arrival: 2 }),
  req('d', 2, 1, { arrival: 3 }),
];

function steps(
  mode: ServingMode,
  options: { batch?: number; maxDepth?: number } = {},
  exitDepth?: (row: RowPlan) => number,
): number {
  const engine = new FakeEngine(
    new Scheduler({ ...limits, ...baselineConfig(mode, options) }),
    exitDepth ? { exitDepth } : {},
  );
  for (const request of load) engine.submit(request);
  return engine.drain();
}

describe('baselines on one hand-computed scenario (steps to finish all four)', () => {
  it('one at a time: 1 + 4 + 1 + 1', () => {
    expect(steps('one-at-a-time')).toBe(7);
  });

  it('static batches of 2: {a,b} until b ends (4 steps), then {c,d} (1 step)', () => {
    expect(steps('static', { batch: 2 })).toBe(5);
  });

  it('continuous sequence-wise (N = 1): c and d take the slots a and c free while b decodes', () => {
    expect(steps('continuous-sequence')).toBe(4);
  });

  it('continuous depth-wise, N = 2, no early exit: every token takes 2 steps, b alone sets the pace', () => {
    expect(steps('continuous-depth', { maxDepth: 2 })).toBe(8);
  });

  it('continuous depth-wise, N = 2, decode tokens exit at depth 0: b decodes in 1 step per token', () => {
    expect(steps('continuous-depth', { maxDepth: 2 }, (row) => (row.kind === 'decode' ? 0 : 1))).toBe(6);
  });

  it('static batching admits nothing while a batch runs', () => {
    const engine = new FakeEngine(new Scheduler({ ...limits, ...baselineConfig('static', { batch: 2 }) }));
    for (const request of load) engine.submit(request);
    engine.drain();
    expect(engine.plans.map((p) => p.admitted)).toEqual([['a', 'b'], [], [], [], ['c', 'd']]);
  });
});
