import { describe, expect, test } from 'vitest';
import { DataError, PackedBatcher, windowAt } from '../src/data/index.js';

const tokens = Int32Array.from({ length: 1000 }, (_, i) => i);
const make = (seed = 3, batchSize = 4): PackedBatcher =>
  new PackedBatcher({ tokens, seqLen: 16, batchSize, seed, source: 'corpus.txt' });
const firstIds = (batch: Int32Array[]): number[] => batch.map((row) => row[0]!);

describe('PackedBatcher', () => {
  test('B rows of seqLen+1 consecutive tokens, each a packed window', () => {
    const batch = make().next();
    expect(batch).toHaveLength(4);
    for (const row of batch) {
      expect(row).toHaveLength(17);
      expect(row[0]! % 16).toBe(0);
      expect(row).toEqual(windowAt(tokens, 16, row[0]! / 16));
    }
  });

  test('each epoch visits every window once, in a new seeded order; batches run across epochs', () => {
    const b = make(3, 5); // 62 windows: batch 13 straddles the epoch boundary
    expect(b.windows).toBe(62);
    const seen = Array.from({ length: 25 }, () => firstIds(b.next())).flat();
    const epoch0 = seen.slice(0, 62);
    const epoch1 = seen.slice(62, 124);
    expect(new Set(epoch0).size).toBe(62);
    expect(new Set(epoch1).size).toBe(62);
    expect(epoch1).not.toEqual(epoch0);
    expect(epoch0).not.toEqual([...epoch0].sort((x, y) => x - y));
    expect(b.epochProgress).toBeCloseTo(125 / 62);
  });

  test('same seed → same batches; another seed → another order; shuffle:false keeps file order', () => {
    expect(firstIds(make(3).next())).toEqual(firstIds(make(3).next()));
    expect(firstIds(make(3).next())).not.toEqual(firstIds(make(4).next()));
    const inOrder = new PackedBatcher({ tokens, seqLen: 16, batchSize: 3, shuffle: false });
    expect(firstIds(inOrder.next())).toEqual([0, 16, 32]);
  });

  test('state after 7 batches restores onto a new batcher: the next 5 batches are identical', () => {
    const a = make();
    for (let i = 0; i < 7; i++) a.next();
    const saved = JSON.parse(JSON.stringify(a.state())) as unknown;
    const expected = Array.from({ length: 5 }, () => a.next());
    const b = make(99); // seed comes from the state
    b.restore(saved);
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(expected);
  });

  test('restore across an epoch boundary', () => {
    const a = make(11, 7);
    for (let i = 0; i < 9; i++) a.next(); // 63 windows taken: one into epoch 1
    const saved = a.state();
    expect(saved.epoch).toBe(1);
    const expected = Array.from({ length: 12 }, () => a.next());
    const b = make(0, 7);
    b.restore(saved);
    expect(Array.from({ length: 12 }, () => b.next())).toEqual(expected);
  });

  test('refuses states from other data or shapes, and nonsense', () => {
    const other = new PackedBatcher({ tokens: tokens.subarray(0, 500), seqLen: 16, batchSize: 4 });
    expect(() => make().restore(other.state())).toThrow(
      /corpus\.txt: cannot restore the batcher: it was saved with windows 31, this batcher has 62/,
    );
    expect(() => make().restore({ ...make().state(), batchSize: 8 })).toThrow(/batchSize 8/);
    expect(() => make().restore({ ...make().state(), cursor: -1 })).toThrow(DataError);
    expect(() => make().restore(null)).toThrow(/not a packed-batcher state/);
  });

  test('typed errors for impossible options', () => {
    expect(
      () => new PackedBatcher({ tokens: new Int32Array(16), seqLen: 16, batchSize: 1, source: 'tiny.txt' }),
    ).toThrow(/tiny\.txt: 16 tokens cannot fill one sequence: seqLen 16 needs at least 17 tokens/);
    expect(() => new PackedBatcher({ tokens, seqLen: 0, batchSize: 1 })).toThrow(/seqLen must be an integer ≥ 1/);
    expect(() => new PackedBatcher({ tokens, seqLen: 8, batchSize: 0 })).toThrow(/batchSize must be an integer ≥ 1/);
  });

  test('more rows than windows: a batch spans several epochs', () => {
    const small = new PackedBatcher({ tokens: tokens.subarray(0, 50), seqLen: 16, batchSize: 7, seed: 1 });
    expect(small.windows).toBe(3);
    const batch = small.next();
    expect(batch).toHaveLength(7);
    expect(new Set(firstIds(batch.slice(0, 3))).size).toBe(3);
  });
});
