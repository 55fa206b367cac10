import { describe, expect, it } from 'vitest';
import { Scheduler, type StepPlan } from '../src/index.js';
import { FakeEngine, req } from './fakeEngine.js';

const admissionOrder = (plans: readonly StepPlan[]): string[] => plans.flatMap((p) => p.admitted);

describe('admission order', () => {
  it('fcfs: by arrival, ties by submission order', () => {
    const engine = new FakeEngine(new Scheduler({ maxRunning: 1, policy: 'fcfs' }));
    engine.submit(req('late', 2, 1, { arrival: 5, priority: -9 }));
    engine.submit(req('first', 2, 1, { arrival: 1 }));
    engine.submit(req('tieA', 2, 1, { arrival: 3 }));
    engine.submit(req('tieB', 2, 1, { arrival: 3 }));
    engine.drain();
    expect(admissionOrder(engine.plans)).toEqual(['first', 'tieA', 'tieB', 'late']);
  });

  it('priority: lower value first, then arrival', () => {
    const engine = new FakeEngine(new Scheduler({ maxRunning: 1, policy: 'priority' }));
    engine.submit(req('low', 2, 1, { arrival: 0, priority: 5 }));
    engine.submit(req('high', 2, 1, { arrival: 2, priority: -1 }));
    engine.submit(req('mid1', 2, 1, { arrival: 1 }));
    engine.submit(req('mid0', 2, 1, { arrival: 0 }));
    engine.drain();
    expect(admissionOrder(engine.plans)).toEqual(['high', 'mid0', 'mid1', 'low']);
  });

  it('nobody overtakes a waiting request that does not fit', () => {
    // 'big' needs 4 KV entries while 'a' holds 4 of 7 and outranks it; 'small' would fit but must wait.
    const engine = new FakeEngine(new Scheduler({ maxDepth: 1, prefillChunk: 4, tokenBudgetPerStep: 8, kvBudget: 7 }));
    engine.submit(req('a', 5, 3, { arrival: 0 }));
    engine.submit(req('big', 4, 1, { arrival: 1 }));
    engine.submit(req('small', 1, 1, { arrival: 2 }));
    expect(engine.step().admitted).toEqual(['a']);
    engine.drain();
    const admittedAt = (id: string): number => engine.plans.findIndex((p) => p.admitted.includes(id));
    expect(admissionOrder(engine.plans)).toEqual(['a', 'big', 'small']);
    expect(admittedAt('big')).toBe(4); // a: steps 0–1 prefill, 2–3 decode, finished → KV free at step 4
    expect(admittedAt('small')).toBe(4);
    expect(engine.plans.some((p) => p.preempted.length > 0)).toBe(false);
  });
});
