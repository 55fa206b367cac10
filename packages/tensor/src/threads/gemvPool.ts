import { WorkerPool } from '../wasm/pool.js';
import { GemvParams, gemvModuleBytes } from './gemvKernel.js';

/** Below this many weights (floats) one thread finishes before a sleeping worker would wake. */
const MIN_PARALLEL_WEIGHTS = 64 * 1024;
/** Weights per chunk: small enough to balance two threads, large enough that claims cost nothing. */
const CHUNK_WEIGHTS = 16 * 1024;
/** At most this many chunks per job. */
const MAX_CHUNKS = 8192;
/**
 * Workers sleep between jobs at once: on 2 cores a spinning worker takes the core XNNPACK's own
 * pthread needs (SmolLM decode measured ≈15% slower with a 20k-iteration spin). The caller spins a
 * little on the done counter: the last chunk is usually µs away.
 */
const TIMING = { workerSpinMs: 0, callerSpins: 100_000, callerWaitMs: 100 } as const;

/**
 * y = W·x on the WorkerPool over one shared WebAssembly memory (tfjs's threaded heap): W [rows, k],
 * x [k], y [rows], float32, given as byte offsets into it; weight rows split in chunks across
 * threads. `params` is a GemvParams block of the memory this object owns (written before each job).
 */
export class GemvPool {
  private heap = new Int32Array(0);

  private constructor(
    private readonly pool: WorkerPool<'gemvRows'>,
    private readonly memory: WebAssembly.Memory,
    private readonly params: number,
  ) {}

  static async start(memory: WebAssembly.Memory, threads: number, params: number): Promise<GemvPool> {
    const module = await WebAssembly.compile(gemvModuleBytes());
    const pool = await WorkerPool.start('GEMV', module, ['gemvRows'] as const, memory, threads, TIMING);
    return new GemvPool(pool, memory, params);
  }

  get threads(): number {
    return this.pool.threads;
  }

  gemv(w: number, x: number, y: number, rows: number, k: number): void {
    if (this.heap.buffer !== this.memory.buffer) this.heap = new Int32Array(this.memory.buffer); // tfjs grows the heap
    const b = this.params >>> 2;
    this.heap[b + GemvParams.W] = w;
    this.heap[b + GemvParams.X] = x;
    this.heap[b + GemvParams.Y] = y;
    this.heap[b + GemvParams.K] = k;
    const chunk = Math.max(Math.ceil(CHUNK_WEIGHTS / k), Math.ceil(rows / MAX_CHUNKS));
    this.pool.run([{ kernel: 'gemvRows', params: this.params, items: rows, chunk }], rows * k >= MIN_PARALLEL_WEIGHTS);
  }

  /** Stops the workers; later `gemv` calls throw. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
