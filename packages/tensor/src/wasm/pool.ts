import type { Worker } from 'node:worker_threads';
import { Ctl, MAX_CHUNKS, MAX_SEGMENTS, runClaims, type KernelFn } from './claims.js';
import { workerSource } from './worker.js';

/** One kernel over `items` work items, handed out `chunk` items at a time. */
export interface Segment<Name extends string> {
  readonly kernel: Name;
  /** Byte offset of the kernel's parameter block. */
  readonly params: number;
  readonly items: number;
  readonly chunk: number;
}

/** How a pool waits; the thread pools of the package differ only in these. */
export interface PoolTiming {
  /** Workers spin this long for the next job before sleeping in Atomics.wait (0: sleep at once). */
  readonly workerSpinMs: number;
  /** The caller spins this many times on the done counter before it sleeps. */
  readonly callerSpins: number;
  /** The caller's sleeps between looks for a failed worker, in ms. */
  readonly callerWaitMs: number;
}

/**
 * The one thread pool of the package: runs the exported `fn(params, start, end)` kernels of a wasm
 * module on `threads` threads (the caller's plus `threads − 1` workers) over one WebAssembly memory —
 * tfjs's heap. `run` is synchronous: the caller claims chunks too (claims.ts), then waits for the
 * last. Idle workers never keep Node alive. With 1 thread, or a memory that is not shared, every job
 * runs inline. `label` names the pool in its errors.
 */
export class WorkerPool<Name extends string> {
  private job = 0;
  private closed = false;
  private readonly fns: readonly KernelFn[];

  private constructor(
    private readonly label: string,
    private readonly names: readonly Name[],
    private readonly timing: PoolTiming,
    private readonly ctrl: Int32Array,
    instance: WebAssembly.Instance,
    private readonly workers: readonly Worker[],
  ) {
    this.fns = names.map((n) => instance.exports[n] as KernelFn);
  }

  static async start<Name extends string>(
    label: string,
    module: WebAssembly.Module,
    names: readonly Name[],
    memory: WebAssembly.Memory,
    threads: number,
    timing: PoolTiming,
  ): Promise<WorkerPool<Name>> {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    if (threads > 1 && !shared) throw new Error(`${label} pool: more than one thread needs a shared memory`);
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const control = shared ? new SharedArrayBuffer(Ctl.Size * 4) : new ArrayBuffer(Ctl.Size * 4);
    const workers =
      threads > 1
        ? await startWorkers(label, threads - 1, {
            module,
            memory,
            control,
            names,
            spinMs: timing.workerSpinMs,
            ctl: Ctl,
          })
        : [];
    return new WorkerPool(label, names, timing, new Int32Array(control), instance, workers);
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** Runs one kernel over items [start, end) on the calling thread. */
  call(kernel: Name, params: number, start: number, end: number): void {
    this.fns[this.names.indexOf(kernel)]!(params, start, end);
  }

  /** Runs every segment's items; on the calling thread alone when `parallel` is false or there are no workers. */
  run(segments: readonly Segment<Name>[], parallel = true): void {
    if (this.closed) throw new Error(`${this.label} pool used after close()`);
    if (segments.length > MAX_SEGMENTS)
      throw new RangeError(`${this.label} pool: at most ${MAX_SEGMENTS} segments a job, got ${segments.length}`);
    if (!parallel || this.workers.length === 0) {
      for (const s of segments) this.call(s.kernel, s.params, 0, s.items);
      return;
    }
    const { ctrl } = this;
    let chunks = 0;
    this.job = (this.job % 0x7fff) + 1; // 15 bits: `job << 16` stays a positive int32
    Atomics.store(ctrl, Ctl.Seq, -1);
    segments.forEach((s, i) => {
      const base = Ctl.Segments + i * Ctl.SegInts;
      ctrl[base] = this.names.indexOf(s.kernel);
      ctrl[base + 1] = s.params;
      ctrl[base + 2] = s.items;
      ctrl[base + 3] = s.chunk;
      chunks += Math.ceil(s.items / s.chunk);
    });
    if (chunks > MAX_CHUNKS)
      throw new RangeError(`${this.label} pool: at most ${MAX_CHUNKS} chunks a job, got ${chunks}`);
    ctrl[Ctl.Segs] = segments.length;
    ctrl[Ctl.Chunks] = chunks;
    Atomics.store(ctrl, Ctl.Done, 0);
    Atomics.store(ctrl, Ctl.Seq, this.job);
    Atomics.store(ctrl, Ctl.Claim, this.job << 16);
    Atomics.add(ctrl, Ctl.Gen, 1);
    Atomics.notify(ctrl, Ctl.Gen);
    runClaims(ctrl, this.fns, Ctl);
    this.waitDone(chunks);
  }

  /** Stops the workers; later `run` calls throw. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, Ctl.Stop, 1);
    Atomics.add(this.ctrl, Ctl.Gen, 1);
    Atomics.notify(this.ctrl, Ctl.Gen);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private waitDone(chunks: number): void {
    const { ctrl } = this;
    for (let spins = 0; spins < this.timing.callerSpins; spins++) if (Atomics.load(ctrl, Ctl.Done) === chunks) return;
    for (;;) {
      if (Atomics.load(ctrl, Ctl.Failed) !== 0) {
        this.closed = true;
        throw new Error(`a ${this.label} worker failed; the pool is closed`);
      }
      const done = Atomics.load(ctrl, Ctl.Done);
      if (done === chunks) return;
      Atomics.wait(ctrl, Ctl.Done, done, this.timing.callerWaitMs);
    }
  }
}

async function startWorkers(label: string, count: number, workerData: object): Promise<Worker[]> {
  const { Worker } = await import('node:worker_threads');
  const workers = Array.from({ length: count }, () => new Worker(workerSource, { eval: true, workerData }));
  try {
    await Promise.all(workers.map((w) => ready(label, w)));
  } catch (err) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw err;
  }
  // Idle workers sleep in Atomics.wait and hold no work: they must not keep the process alive.
  for (const w of workers) w.unref();
  return workers;
}

function ready(label: string, worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`${label} worker exited with code ${code} before it was ready`)));
  });
}
