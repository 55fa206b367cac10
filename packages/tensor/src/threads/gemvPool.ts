import type { Worker } from 'node:worker_threads';
import { gemvModuleBytes } from './gemvKernel.js';
import { CONTROL_INTS, MAX_CHUNKS, Slot, runClaims, type GemvRows } from './gemvProtocol.js';
import { gemvWorkerSource } from './gemvWorkerSource.js';

/** Below this many weights (floats) one thread finishes before a sleeping worker would wake. */
const MIN_PARALLEL_WEIGHTS = 64 * 1024;
/** Weights per chunk: small enough to balance two threads, large enough that claims cost nothing. */
const CHUNK_WEIGHTS = 16 * 1024;
/** Main-thread spins on the done counter before it sleeps (the last chunk is usually µs away). */
const MAIN_SPIN = 100_000;

/**
 * `threads` threads (the caller's plus `threads - 1` workers) computing y = W·x over one shared
 * WebAssembly memory: W [rows, k], x [k], y [rows], float32, given as byte offsets into it. `gemv`
 * is synchronous: the calling thread takes chunks too, then waits on an atomic counter.
 */
export class GemvPool {
  private job = 0;
  private closed = false;

  private constructor(
    private readonly ctrl: Int32Array,
    private readonly gemvRows: GemvRows,
    private readonly workers: readonly Worker[],
  ) {}

  static async start(memory: WebAssembly.Memory, threads: number): Promise<GemvPool> {
    const { Worker } = await import('node:worker_threads');
    const module = await WebAssembly.compile(gemvModuleBytes());
    const gemvRows = new WebAssembly.Instance(module, { env: { memory } }).exports['gemvRows'] as GemvRows;
    const control = new SharedArrayBuffer(CONTROL_INTS * Int32Array.BYTES_PER_ELEMENT);
    const workers = Array.from({ length: threads - 1 }, () => new Worker(gemvWorkerSource, { eval: true, workerData: { module, memory, control } }));
    try {
      await Promise.all(workers.map(ready));
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    // Idle workers sleep in Atomics.wait and hold no work: they must not keep the process alive.
    for (const w of workers) w.unref();
    return new GemvPool(new Int32Array(control), gemvRows, workers);
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  gemv(w: number, x: number, y: number, rows: number, k: number): void {
    if (this.closed) throw new Error('GemvPool.gemv after close()');
    if (this.workers.length === 0 || rows * k < MIN_PARALLEL_WEIGHTS) {
      this.gemvRows(w, x, y, 0, rows, k);
      return;
    }
    const { ctrl } = this;
    const chunkRows = Math.max(Math.ceil(CHUNK_WEIGHTS / k), Math.ceil(rows / MAX_CHUNKS));
    const chunks = Math.ceil(rows / chunkRows);
    this.job = (this.job % 0x7fff) + 1; // 15 bits: `job << 16` stays a positive int32
    Atomics.store(ctrl, Slot.Seq, -1);
    const params: [number, number][] = [[Slot.W, w], [Slot.X, x], [Slot.Y, y], [Slot.Rows, rows], [Slot.K, k], [Slot.ChunkRows, chunkRows], [Slot.Chunks, chunks], [Slot.Done, 0]];
    for (const [slot, value] of params) Atomics.store(ctrl, slot, value);
    Atomics.store(ctrl, Slot.Seq, this.job);
    Atomics.store(ctrl, Slot.Claim, this.job << 16);
    Atomics.add(ctrl, Slot.Gen, 1);
    Atomics.notify(ctrl, Slot.Gen);
    runClaims(ctrl, this.gemvRows);
    this.waitDone(chunks);
  }

  /** Stops the workers; later `gemv` calls throw. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, Slot.Stop, 1);
    Atomics.add(this.ctrl, Slot.Gen, 1);
    Atomics.notify(this.ctrl, Slot.Gen);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private waitDone(chunks: number): void {
    const { ctrl } = this;
    for (let spins = 0; spins < MAIN_SPIN; spins++) if (Atomics.load(ctrl, Slot.Done) === chunks) return;
    for (;;) {
      if (Atomics.load(ctrl, Slot.Failed) !== 0) {
        this.closed = true;
        throw new Error('a GEMV worker failed; the thread pool is closed');
      }
      const done = Atomics.load(ctrl, Slot.Done);
      if (done === chunks) return;
      Atomics.wait(ctrl, Slot.Done, done, 100);
    }
  }
}

function ready(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`GEMV worker exited with code ${code} before it was ready`)));
  });
}
