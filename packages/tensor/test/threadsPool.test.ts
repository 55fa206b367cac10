import { afterAll, describe, expect, it } from 'vitest';
import { GemvPool } from '../src/threads/gemvPool.js';
import { mulberry32 } from './helpers/prng.js';

// The pool on its own shared memory, no tfjs: many back-to-back jobs of varying shapes must each
// come out exactly like one thread's (same per-row summation order).
describe.each([2, 3])('GemvPool with %i threads', (threads) => {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: 1024, shared: true }); // 16 MiB
  const heap = new Float32Array(memory.buffer);
  const pools: GemvPool[] = [];
  const PARAMS = 15 << 20; // byte offset of each pool's parameter block, past W, x and y
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  it('matches the single-thread result over 200 jobs of mixed shapes', async () => {
    const [single, multi] = [
      await GemvPool.start(memory, 1, PARAMS),
      await GemvPool.start(memory, threads, PARAMS + 64),
    ];
    pools.push(single, multi);
    expect(multi.threads).toBe(threads);
    const rand = mulberry32(threads);
    for (let i = 0; i < heap.length / 2; i++) heap[i] = rand() * 2 - 1;
    const [w, x, y1, y2] = [0, 12 << 20, 13 << 20, 14 << 20]; // byte offsets: W ≤ 12 MiB, x, y
    for (let job = 0; job < 200; job++) {
      const k = 1 + Math.floor(rand() * 1500);
      const rows = 1 + Math.floor(rand() * Math.min(4000, (12 << 18) / k));
      single.gemv(w, x, y1, rows, k);
      multi.gemv(w, x, y2, rows, k);
      const [a, b] = [heap.subarray(y1 / 4, y1 / 4 + rows), heap.subarray(y2 / 4, y2 / 4 + rows)];
      expect(b).toEqual(a);
    }
  });

  it('refuses work after close()', async () => {
    const pool = await GemvPool.start(memory, threads, PARAMS);
    await pool.close();
    expect(() => pool.gemv(0, 0, 0, 1, 1)).toThrow(/after close/);
  });
});
