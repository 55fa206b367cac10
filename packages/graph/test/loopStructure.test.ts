import { describe, expect, it } from 'vitest';
import { loopStructure, tyingPlan } from '../src/index.js';

const order = (strategy: Parameters<typeof tyingPlan>[2], layers: number, loops: number) =>
  tyingPlan(layers, loops, strategy).steps.map((s) => s.unique);
const uniques = (calls: readonly { unique: number }[]) => calls.map((c) => c.unique);

describe('loopStructure', () => {
  it('splits middle-cycle into prologue, N loops of the block, epilogue', () => {
    const s = loopStructure({ numLayers: 4, layerOrder: order('middle-cycle', 6, 2) });
    expect(uniques(s.prologue)).toEqual([0]);
    expect(s.loops.map(uniques)).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(s.loops.map((l) => l.map((c) => c.loop))).toEqual([
      [0, 0],
      [1, 1],
    ]);
    expect(uniques(s.epilogue)).toEqual([3]);
    expect(s.block).toEqual([1, 2]);
  });

  it('cycle has no prologue or epilogue; a plain decoder is one loop', () => {
    const cycle = loopStructure({ numLayers: 2, layerOrder: order('cycle', 6, 3) });
    expect(cycle.prologue).toEqual([]);
    expect(cycle.loops.map(uniques)).toEqual([
      [0, 1],
      [0, 1],
      [0, 1],
    ]);
    const plain = loopStructure({ numLayers: 3 });
    expect(plain.loops.map(uniques)).toEqual([[0, 1, 2]]);
    expect(plain.epilogue).toEqual([]);
  });

  it('refuses sequence tying, whose loops are not contiguous', () => {
    expect(() => loopStructure({ numLayers: 2, layerOrder: order('sequence', 4, 2) })).toThrow(/cycle or middle-cycle/);
  });
});
