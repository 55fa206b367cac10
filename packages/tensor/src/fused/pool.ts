import type { Worker } from 'node:worker_threads';
import { KERNEL_NAMES, fusedModuleBytes, relaxedSimdProbe, tileFor, type KernelFn, type KernelName } from './kernels/index.js';
import { Ctl, MAX_SEGMENTS, SEG_INTS, fusedWorkerSource } from './poolWorker.js';

/** One kernel over `items` work items, handed out `chunk` items at a time. */
export interface Segment {
  readonly kernel: KernelName;
  /** Byte offset of the kernel's parameter block. */
  readonly params: number;
  readonly items: number;
  readonly chunk: number;
}

/** Workers spin this long for the next job before sleeping: a decode step's next kernel is µs away. */
const SPIN_MS = 2;

/**
 * Runs the fused kernels on `threads` threads (the caller's plus `threads − 1` workers) over one
 * WebAssembly memory — tfjs's heap. A job is up to 4 segments (e.g. the q, k and v projections of a
 * layer) whose chunks all threads claim through one atomic counter; `run` returns when every chunk
 * is done (one sync per job). Between jobs workers spin briefly, then sleep in Atomics.wait, so an
 * idle pool costs nothing and never keeps Node alive. With 1 thread every job runs inline.
 */
export class FusedPool {
  private job = 0;
  private closed = false;
  private readonly fns: readonly KernelFn[];

  private constructor(
    /** Whether linearTiled runs relaxed-SIMD fused multiply-adds. */
    readonly fma: boolean,
    readonly memory: WebAssembly.Memory,
    private readonly ctrl: Int32Array,
    instance: WebAssembly.Instance,
    private readonly workers: readonly Worker[],
  ) {
    this.fns = KERNEL_NAMES.map((n) => instance.exports[n] as KernelFn);
  }

  static async start(memory: WebAssembly.Memory, threads: number): Promise<FusedPool> {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    if (threads > 1 && !shared) throw new Error('FusedPool: more than one thread needs a shared memory');
    const fma = await relaxedSimd();
    const module = await WebAssembly.compile(fusedModuleBytes(shared, fma));
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const control = shared ? new SharedArrayBuffer(Ctl.Size * 4) : new ArrayBuffer(Ctl.Size * 4);
    let workers: Worker[] = [];
    if (threads > 1) {
      const { Worker } = await import('node:worker_threads');
      workers = Array.from({ length: threads - 1 }, () => new Worker(fusedWorkerSource(SPIN_MS), { eval: true, workerData: { module, memory, control } }));
      try {
        await Promise.all(workers.map(ready));
      } catch (err) {
        await Promise.all(workers.map((w) => w.terminate()));
        throw err;
      }
      for (const w of workers) w.unref();
    }
    return new FusedPool(fma, memory, new Int32Array(control), instance, workers);
  }

  /** linearTiled's weight rows per tile: jobs hand out whole tiles. */
  get tileRows(): number {
    return tileFor(this.fma).NR;
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** Runs one kernel over items [start, end) on the calling thread. */
  call(kernel: KernelName, params: number, start: number, end: number): void {
    this.fns[KERNEL_NAMES.indexOf(kernel)]!(params, start, end);
  }

  /** Runs every segment's items; on one thread when `parallel` is false or the pool has no workers. */
  run(segments: readonly Segment[], parallel = true): void {
    if (this.closed) throw new Error('FusedPool.run after close()');
    if (segments.length > MAX_SEGMENTS) throw new RangeError(`FusedPool.run: at most ${MAX_SEGMENTS} segments, got ${segments.length}`);
    if (!parallel || this.workers.length === 0) {
      for (const s of segments) this.fns[KERNEL_NAMES.indexOf(s.kernel)]!(s.params, 0, s.items);
      return;
    }
    const { ctrl } = this;
    let chunks = 0;
    this.job = (this.job % 0x7fff) + 1; // 15 bits: `job << 16` stays a positive int32
    Atomics.store(ctrl, Ctl.Seq, -1);
    segments.forEach((s, i) => {
      const base = Ctl.Segments + i * SEG_INTS;
      ctrl[base] = KERNEL_NAMES.indexOf(s.kernel);
      ctrl[base + 1] = s.params;
      ctrl[base + 2] = s.items;
      ctrl[base + 3] = s.chunk;
      chunks += Math.ceil(s.items / s.chunk);
    });
    ctrl[Ctl.Segs] = segments.length;
    ctrl[Ctl.Chunks] = chunks;
    Atomics.store(ctrl, Ctl.Done, 0);
    Atomics.store(ctrl, Ctl.Seq, this.job);
    Atomics.store(ctrl, Ctl.Claim, this.job << 16);
    Atomics.add(ctrl, Ctl.Gen, 1);
    Atomics.notify(ctrl, Ctl.Gen);
    this.claimChunks();
    this.waitDone(chunks);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, Ctl.Stop, 1);
    Atomics.add(this.ctrl, Ctl.Gen, 1);
    Atomics.notify(this.ctrl, Ctl.Gen);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** The main thread's share of a job: the same claim loop as the workers' (poolWorker.ts). */
  private claimChunks(): void {
    const { ctrl } = this;
    for (;;) {
      const claim = Atomics.add(ctrl, Ctl.Claim, 1);
      const job = claim >>> 16;
      let ticket = claim & 0xffff;
      if (job !== this.job || ticket >= ctrl[Ctl.Chunks]!) return;
      for (let i = 0; ; i++) {
        const base = Ctl.Segments + i * SEG_INTS;
        const items = ctrl[base + 2]!;
        const chunk = ctrl[base + 3]!;
        const n = Math.ceil(items / chunk);
        if (ticket < n) {
          const start = ticket * chunk;
          this.fns[ctrl[base]!]!(ctrl[base + 1]!, start, Math.min(items, start + chunk));
          break;
        }
        ticket -= n;
      }
      Atomics.add(ctrl, Ctl.Done, 1);
    }
  }

  private waitDone(chunks: number): void {
    const { ctrl } = this;
    for (let spins = 0; spins < 1_000_000; spins++) if (Atomics.load(ctrl, Ctl.Done) === chunks) return;
    for (;;) {
      if (Atomics.load(ctrl, Ctl.Failed) !== 0) {
        this.closed = true;
        throw new Error('a fused-kernel worker failed; the pool is closed');
      }
      const done = Atomics.load(ctrl, Ctl.Done);
      if (done === chunks) return;
      Atomics.wait(ctrl, Ctl.Done, done, 50);
    }
  }
}

/**
 * Whether wasm relaxed SIMD is available, turning it on where this Node has it behind a flag (Node
 * 20's V8 11.3: `--experimental-wasm-relaxed-simd`; it only changes what new modules may use).
 * f32x4.relaxed_madd is a single FMA on x64 with FMA3: ≈ 1.4× the GEMM throughput of mul + add.
 * RECUR_WASM_FMA=0 keeps mul + add.
 */
async function relaxedSimd(): Promise<boolean> {
  if (typeof process !== 'undefined' && process.env.RECUR_WASM_FMA === '0') return false;
  const probe = relaxedSimdProbe();
  if (WebAssembly.validate(probe)) return true;
  try {
    const v8 = await import('node:v8');
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return WebAssembly.validate(probe);
}

function ready(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`fused-kernel worker exited with code ${code} before it was ready`)));
  });
}
