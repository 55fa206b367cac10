import { describe, expect, it } from 'vitest';
import { executionSteps, loopedOrder, tiedGroups, tyingPlan, TyingError, type SharingStrategy } from '../src/index.js';

const table = (L: number, N: number, s: SharingStrategy) => {
  const plan = tyingPlan(L, N, s);
  return {
    unique: plan.steps.map((x) => x.unique),
    loop: plan.steps.map((x) => x.loop),
    source: plan.steps.map((x) => x.sourceLayer),
    groups: tiedGroups(plan),
    K: plan.blockSize,
    warned: plan.warning !== undefined,
  };
};

describe('tying maps (hand-written tables)', () => {
  it('L = 6, N = 3', () => {
    expect(table(6, 3, 'cycle')).toEqual({ unique: [0, 1, 0, 1, 0, 1], loop: [0, 0, 1, 1, 2, 2], source: [0, 1, 2, 3, 4, 5], groups: [[0, 2, 4], [1, 3, 5]], K: 2, warned: false });
    expect(table(6, 3, 'sequence')).toEqual({ unique: [0, 0, 0, 1, 1, 1], loop: [0, 1, 2, 0, 1, 2], source: [0, 1, 2, 3, 4, 5], groups: [[0, 1, 2], [3, 4, 5]], K: 2, warned: false });
    // 4 middle layers do not divide into 3 loops: K = round(4/3) = 1, sources round(linspace(1, 4, 3)) = [1, 3, 4]
    expect(table(6, 3, 'middle-cycle')).toEqual({ unique: [0, 1, 1, 1, 2], loop: [0, 0, 1, 2, 0], source: [0, 1, 3, 4, 5], groups: [[0], [1, 3, 4], [5]], K: 1, warned: true });
    expect(table(6, 3, 'middle-sequence')).toEqual(table(6, 3, 'middle-cycle'));
  });

  it('L = 6, N = 2 middle strategies differ in order', () => {
    expect(table(6, 2, 'middle-cycle')).toMatchObject({ unique: [0, 1, 2, 1, 2, 3], loop: [0, 0, 0, 1, 1, 0], source: [0, 1, 2, 3, 4, 5], groups: [[0], [1, 3], [2, 4], [5]] });
    expect(table(6, 2, 'middle-sequence')).toMatchObject({ unique: [0, 1, 1, 2, 2, 3], loop: [0, 0, 1, 0, 1, 0], source: [0, 1, 2, 3, 4, 5], groups: [[0], [1, 2], [3, 4], [5]] });
  });

  it('L = 5 (middle-cycle, middle-sequence)', () => {
    for (const s of ['middle-cycle', 'middle-sequence'] as const) {
      expect(table(5, 3, s)).toEqual({ unique: [0, 1, 1, 1, 2], loop: [0, 0, 1, 2, 0], source: [0, 1, 2, 3, 4], groups: [[0], [1, 2, 3], [4]], K: 1, warned: false });
      expect(table(5, 1, s)).toMatchObject({ unique: [0, 1, 2, 3, 4], K: 3, warned: false });
    }
    expect(table(5, 2, 'middle-cycle')).toMatchObject({ K: 2, unique: [0, 1, 2, 1, 2, 3], source: [0, 1, 2, 2, 3, 4], warned: true });
  });

  it('L = 5, N = 2 cycle picks source layers by round(linspace) and warns', () => {
    const plan = tyingPlan(5, 2, 'cycle');
    expect(plan.blockSize).toBe(3);
    expect(plan.steps.map((s) => s.sourceLayer)).toEqual([0, 1, 2, 2, 3, 4]);
    expect(plan.warning).toMatch(/round\(linspace\)/);
  });

  it('refuses impossible combinations', () => {
    expect(() => tyingPlan(5, 6, 'cycle')).toThrow(TyingError);
    expect(() => tyingPlan(5, 4, 'middle-cycle')).toThrow(/no layer to share/);
    expect(() => tyingPlan(2, 1, 'middle-sequence')).toThrow(/at least 3/);
    expect(() => tyingPlan(6, 0, 'cycle')).toThrow(/positive integer/);
    expect(() => tyingPlan(6, 2, 'spiral' as SharingStrategy)).toThrow(/unknown sharing strategy/);
  });
});

describe('loopedOrder', () => {
  it('matches the tying plan at the trained loop count', () => {
    for (const s of ['cycle', 'sequence', 'middle-cycle', 'middle-sequence'] as const) {
      const plan = tyingPlan(6, 2, s);
      const layerOrder = loopedOrder(s, plan.blockSize, 2);
      expect(layerOrder).toEqual(plan.steps.map((x) => x.unique));
      // the loop of each step is derived from the order: the k-th run of a stored layer is loop k
      expect(executionSteps({ numLayers: plan.uniqueLayers, layerOrder }).map((x) => x.loop)).toEqual(plan.steps.map((x) => x.loop));
    }
  });

  it('runs fewer or more loops of the same block', () => {
    expect(loopedOrder('cycle', 2, 3)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(loopedOrder('middle-sequence', 2, 1)).toEqual([0, 1, 2, 3]);
    expect(() => loopedOrder('cycle', 2, 0)).toThrow(TyingError);
  });
});
