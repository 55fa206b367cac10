import { describe, expect, it } from 'vitest';
import { blockSlot, exitCopies, kvSlotLayouts, loopStructure } from '../src/index.js';

// MIDDLE-CYCLE over 4 stored layers, 3 loops: step 0 = layer 0 (prologue), steps 1..6 = layers 1, 2 looped
// three times, step 7 = layer 3 (epilogue).
const structure = loopStructure({ numLayers: 8, layerOrder: [0, 1, 2, 1, 2, 1, 2, 3] });

describe('the KV plan both executors read', () => {
  it('lays out slots per mode: recursion-wise compacts every loop step, shared leaves loops ≥ 1 unwritten', () => {
    expect(kvSlotLayouts(8, structure, 'copy')).toEqual(Array(8).fill('dense'));
    expect(kvSlotLayouts(8, structure, 'recursion-wise')).toEqual(['dense', ...Array(6).fill('compact'), 'dense']);
    expect(kvSlotLayouts(8, structure, 'shared')).toEqual([
      'dense',
      'dense',
      'dense',
      'unused',
      'unused',
      'unused',
      'unused',
      'dense',
    ]);
  });

  it('under shared, a deeper loop reads loop 0 of its block layer and writes nothing', () => {
    expect(blockSlot(structure, 'shared', 2, 1)).toEqual({ write: undefined, read: 2 });
    expect(blockSlot(structure, 'shared', 0, 1)).toEqual({ write: 2, read: 2 });
    expect(blockSlot(structure, 'recursion-wise', 2, 1)).toEqual({ write: 6, read: 6 });
  });

  it('a token leaving after depth d copies its loop d−1 keys into every deeper loop, under copy only', () => {
    expect(exitCopies(structure, 'copy', 1)).toEqual([
      { from: 1, to: 3 },
      { from: 1, to: 5 },
      { from: 2, to: 4 },
      { from: 2, to: 6 },
    ]);
    expect(exitCopies(structure, 'copy', 3)).toEqual([]);
    expect(exitCopies(structure, 'recursion-wise', 1)).toEqual([]);
    expect(() => exitCopies(structure, 'copy', 0)).toThrow(/outside 1..3/);
  });
});
