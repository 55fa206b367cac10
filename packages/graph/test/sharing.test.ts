import { describe, expect, it } from 'vitest';
import {
  evenRoundedLinspace,
  executionSteps,
  loopedOrder,
  tiedGroups,
  tyingPlan,
  TyingError,
  type DepthFit,
  type SharingStrategy,
} from '../src/index.js';

const table = (L: number, N: number, s: SharingStrategy, fit: DepthFit = 'floor') => {
  const plan = tyingPlan(L, N, s, fit);
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
    expect(table(6, 3, 'cycle')).toEqual({
      unique: [0, 1, 0, 1, 0, 1],
      loop: [0, 0, 1, 1, 2, 2],
      source: [0, 1, 2, 3, 4, 5],
      groups: [
        [0, 2, 4],
        [1, 3, 5],
      ],
      K: 2,
      warned: false,
    });
    expect(table(6, 3, 'sequence')).toEqual({
      unique: [0, 0, 0, 1, 1, 1],
      loop: [0, 1, 2, 0, 1, 2],
      source: [0, 1, 2, 3, 4, 5],
      groups: [
        [0, 1, 2],
        [3, 4, 5],
      ],
      K: 2,
      warned: false,
    });
    // The old rule, kept explicitly (--depth-fit round): 4 middle layers do not divide into 3 loops:
    // K = round(4/3) = 1, sources round(linspace(1, 4, 3)) = [1, 3, 4] (half away from zero)
    expect(table(6, 3, 'middle-cycle', 'round')).toEqual({
      unique: [0, 1, 1, 1, 2],
      loop: [0, 0, 1, 2, 0],
      source: [0, 1, 3, 4, 5],
      groups: [[0], [1, 3, 4], [5]],
      K: 1,
      warned: true,
    });
    expect(table(6, 3, 'middle-sequence', 'round')).toEqual(table(6, 3, 'middle-cycle', 'round'));
    // floor (the public code): K = floor(4/3) = 1 too, but Python's round takes 2.5 to 2
    expect(table(6, 3, 'middle-cycle')).toMatchObject({ source: [0, 1, 2, 4, 5], K: 1, warned: true });
  });

  it('L = 6, N = 2 middle strategies differ in order', () => {
    expect(table(6, 2, 'middle-cycle')).toMatchObject({
      unique: [0, 1, 2, 1, 2, 3],
      loop: [0, 0, 0, 1, 1, 0],
      source: [0, 1, 2, 3, 4, 5],
      groups: [[0], [1, 3], [2, 4], [5]],
    });
    expect(table(6, 2, 'middle-sequence')).toMatchObject({
      unique: [0, 1, 1, 2, 2, 3],
      loop: [0, 0, 1, 0, 1, 0],
      source: [0, 1, 2, 3, 4, 5],
      groups: [[0], [1, 2], [3, 4], [5]],
    });
  });

  it('L = 5 (middle-cycle, middle-sequence)', () => {
    for (const s of ['middle-cycle', 'middle-sequence'] as const) {
      expect(table(5, 3, s)).toEqual({
        unique: [0, 1, 1, 1, 2],
        loop: [0, 0, 1, 2, 0],
        source: [0, 1, 2, 3, 4],
        groups: [[0], [1, 2, 3], [4]],
        K: 1,
        warned: false,
      });
      expect(table(5, 1, s)).toMatchObject({ unique: [0, 1, 2, 3, 4], K: 3, warned: false });
    }
    // the old rule, kept explicitly: MC×2 of 5 runs source layers [1, 2, 2, 3]
    expect(table(5, 2, 'middle-cycle', 'round')).toMatchObject({
      K: 2,
      unique: [0, 1, 2, 1, 2, 3],
      source: [0, 1, 2, 2, 3, 4],
      warned: true,
    });
  });

  it('L = 5, N = 2 cycle with --depth-fit round picks source layers by round(linspace) and warns', () => {
    const plan = tyingPlan(5, 2, 'cycle', 'round');
    expect(plan.blockSize).toBe(3);
    expect(plan.steps.map((s) => s.sourceLayer)).toEqual([0, 1, 2, 2, 3, 4]);
    expect(plan.warning).toMatch(/K = round\(5 \/ 2\) = 3.*round\(linspace\)/);
  });

  it('floor is the default: K = ⌊L/N⌋ and K·N distinct source layers, as the public MoR code picks them', () => {
    // MC×2 of 5: K = floor(3/2) = 1, round(linspace(1, 3, 2)) = [1, 3]; layer 2 is dropped, none repeats
    expect(table(5, 2, 'middle-cycle')).toEqual({
      unique: [0, 1, 1, 2],
      loop: [0, 0, 1, 0],
      source: [0, 1, 3, 4],
      groups: [[0], [1, 3], [4]],
      K: 1,
      warned: true,
    });
    expect(tyingPlan(5, 2, 'middle-cycle').pool).toEqual([1, 3]);
    // cycle×2 of 5: K = 2, round(linspace(0, 4, 4)) = [0, 1, 3, 4]
    const plan = tyingPlan(5, 2, 'cycle');
    expect({
      K: plan.blockSize,
      source: plan.steps.map((s) => s.sourceLayer),
      unique: plan.steps.map((s) => s.unique),
    }).toEqual({ K: 2, source: [0, 1, 3, 4], unique: [0, 1, 0, 1] });
    expect(plan.warning).toMatch(/K = floor\(5 \/ 2\) = 2/);
    // 30 layers, 4 loops (SmolLM-135M's depth): K = 7, 28 of 30 layers kept
    const deep = tyingPlan(30, 4, 'cycle');
    expect(deep.blockSize).toBe(7);
    expect(new Set(deep.steps.map((s) => s.sourceLayer)).size).toBe(28);
    // exact fits are the same under both rules
    for (const s of ['cycle', 'sequence', 'middle-cycle', 'middle-sequence'] as const)
      expect(table(8, 2, s)).toEqual(table(8, 2, s, 'round'));
    expect(() => tyingPlan(5, 2, 'cycle', 'ceil' as DepthFit)).toThrow(/unknown depth fit "ceil"/);
  });

  it('evenRoundedLinspace rounds halves to even, like Python round on numpy linspace', () => {
    expect(evenRoundedLinspace(0, 5, 3)).toEqual([0, 2, 5]); // 2.5 → 2
    expect(evenRoundedLinspace(0, 7, 3)).toEqual([0, 4, 7]); // 3.5 → 4
    expect(evenRoundedLinspace(1, 1, 1)).toEqual([1]);
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
      expect(executionSteps({ numLayers: plan.uniqueLayers, layerOrder }).map((x) => x.loop)).toEqual(
        plan.steps.map((x) => x.loop),
      );
    }
  });

  it('runs fewer or more loops of the same block', () => {
    expect(loopedOrder('cycle', 2, 3)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(loopedOrder('middle-sequence', 2, 1)).toEqual([0, 1, 2, 3]);
    expect(() => loopedOrder('cycle', 2, 0)).toThrow(TyingError);
  });
});
