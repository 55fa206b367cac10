import { afterAll, describe, expect, it } from 'vitest';
import { bump, get, i32, i32Load, ins, set, whileLt } from '../src/wasm/asm.js';
import { I32, kernelModule } from '../src/wasm/encode.js';
import { WorkerPool, type Segment } from '../src/wasm/pool.js';
import { mulberry32 } from './helpers/prng.js';

/** `count(params, start, end)`: counts[params/4 + i] += 1 for i in [start, end) (i32.store is 0x36). */
function countModule(): Uint8Array<ArrayBuffer> {
  const [p, start, end, i, a] = [0, 1, 2, 3, 4];
  const body = [
    ...get(start),
    ...set(i),
    ...whileLt(i, end, [
      ...get(p),
      ...get(i),
      ...i32(2),
      ...ins.i32Shl,
      ...ins.i32Add,
      ...set(a),
      ...get(a),
      ...get(a),
      ...i32Load(),
      ...i32(1),
      ...ins.i32Add,
      0x36,
      2,
      0,
      ...bump(i, 1),
    ]),
  ];
  return kernelModule(
    [
      { name: 'count', params: 3, locals: [I32, I32], body },
      { name: 'count2', params: 3, locals: [I32, I32], body },
    ],
    true,
  );
}

const TIMING = { workerSpinMs: 1, callerSpins: 1000, callerWaitMs: 20 };

// The job protocol on its own: every item of every segment runs exactly once, whatever the thread
// count and however jobs of different shapes follow each other.
describe.each([1, 2, 3])('WorkerPool with %i threads', (threads) => {
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 64, shared: true }); // 1 MiB
  const counts = new Int32Array(memory.buffer);
  const pools: WorkerPool<'count' | 'count2'>[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });
  const start = async (): Promise<WorkerPool<'count' | 'count2'>> => {
    const pool = await WorkerPool.start(
      'test',
      await WebAssembly.compile(countModule()),
      ['count', 'count2'] as const,
      memory,
      threads,
      TIMING,
    );
    pools.push(pool);
    return pool;
  };

  it('runs every item of up to 4 segments exactly once, over 300 jobs', async () => {
    const pool = await start();
    expect(pool.threads).toBe(threads);
    const rand = mulberry32(threads);
    for (let job = 0; job < 300; job++) {
      counts.fill(0);
      const segments: Segment<'count' | 'count2'>[] = Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, s) => ({
        kernel: s % 2 === 0 ? 'count' : 'count2',
        params: s * 16384, // a 4096-item region per segment
        items: 1 + Math.floor(rand() * 4096),
        chunk: 1 + Math.floor(rand() * 300),
      }));
      pool.run(segments);
      for (const s of segments) {
        const region = counts.subarray(s.params / 4, s.params / 4 + 4096);
        expect(region.subarray(0, s.items).every((c) => c === 1)).toBe(true);
        expect(region.subarray(s.items).every((c) => c === 0)).toBe(true);
      }
    }
  });

  it('refuses more than 4 segments, and work after close()', async () => {
    const pool = await start();
    const one: Segment<'count'> = { kernel: 'count', params: 0, items: 1, chunk: 1 };
    expect(() => pool.run([one, one, one, one, one])).toThrow(/at most 4 segments/);
    await pool.close();
    expect(() => pool.run([one])).toThrow(/after close/);
  });
});

describe('WorkerPool on a memory that is not shared', () => {
  it('refuses a second thread', async () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const module = await WebAssembly.compile(kernelModule([], false));
    await expect(WorkerPool.start('test', module, [], memory, 2, TIMING)).rejects.toThrow(/needs a shared memory/);
  });
});
