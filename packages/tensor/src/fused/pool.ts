import { WorkerPool, type Segment as PoolSegment } from '../wasm/pool.js';
import { KERNEL_NAMES, fusedModuleBytes, relaxedSimdProbe, tileFor, type KernelName } from './kernels/index.js';

/** One fused kernel over `items` work items, handed out `chunk` items at a time. */
export type Segment = PoolSegment<KernelName>;

/**
 * Workers spin 2 ms for the next job before sleeping (a decode step's next kernel is µs away); the
 * caller spins longer on the done counter.
 */
const TIMING = { workerSpinMs: 2, callerSpins: 1_000_000, callerWaitMs: 50 } as const;

/**
 * The fused kernels (kernels/) on a WorkerPool of `threads` threads over one WebAssembly memory —
 * tfjs's heap. A job is up to 4 segments (e.g. the q, k and v projections of a layer) whose chunks
 * all threads claim through one atomic counter; `run` returns when every chunk is done (one sync per
 * job). With 1 thread every job runs inline.
 */
export class FusedPool {
  private constructor(
    /** Whether linearTiled runs relaxed-SIMD fused multiply-adds. */
    readonly fma: boolean,
    readonly memory: WebAssembly.Memory,
    private readonly pool: WorkerPool<KernelName>,
  ) {}

  static async start(memory: WebAssembly.Memory, threads: number): Promise<FusedPool> {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const fma = await relaxedSimd();
    const module = await WebAssembly.compile(fusedModuleBytes(shared, fma));
    return new FusedPool(
      fma,
      memory,
      await WorkerPool.start('fused-kernel', module, KERNEL_NAMES, memory, threads, TIMING),
    );
  }

  /** linearTiled's weight rows per tile: jobs hand out whole tiles. */
  get tileRows(): number {
    return tileFor(this.fma).NR;
  }

  get threads(): number {
    return this.pool.threads;
  }

  /** Runs one kernel over items [start, end) on the calling thread. */
  call(kernel: KernelName, params: number, start: number, end: number): void {
    this.pool.call(kernel, params, start, end);
  }

  /** Runs every segment's items; on one thread when `parallel` is false or the pool has no workers. */
  run(segments: readonly Segment[], parallel = true): void {
    this.pool.run(segments, parallel);
  }

  close(): Promise<void> {
    return this.pool.close();
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
