import { BackendWasm, getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { GemvParams } from './gemvKernel.js';
import { GemvPool } from './gemvPool.js';
import { loadThreadedWasmModule, trimPthreadWorkers } from './threadedWasmModule.js';

/**
 * tfjs's wasm backend on the threaded-SIMD binary: XNNPACK (every matMul, conv, …) runs on
 * `threads` threads, and `gemvPool`, when it started, runs decode-time GEMVs over the same shared
 * heap (see linearThreaded.ts). Disposing it (tf.removeBackend) stops every thread.
 */
export class ThreadedBackendWasm extends BackendWasm {
  gemvPool: GemvPool | undefined;

  override dispose(): void {
    void this.gemvPool?.close();
    this.gemvPool = undefined;
    super.dispose();
  }
}

export async function createThreadedBackend(threads: number): Promise<ThreadedBackendWasm> {
  const module = await loadThreadedWasmModule(threads);
  setThreadsCount(threads); // read by BackendWasm's constructor, which creates XNNPACK's pool
  const backend = new ThreadedBackendWasm(module);
  trimPthreadWorkers(module);
  if (getThreadsCount() !== threads)
    console.warn(`recur: tfjs wasm started ${getThreadsCount()} threads of the ${threads} asked for`);
  try {
    // The pool's parameter block: heap bytes that tfjs's allocator never hands out again.
    const params = module._malloc(GemvParams.Size * 4);
    backend.gemvPool = await GemvPool.start(module.wasmMemory, threads, params);
  } catch (err) {
    console.warn(
      `recur: GEMV worker pool unavailable (${err instanceof Error ? err.message : String(err)}); decode runs on XNNPACK`,
    );
  }
  return backend;
}
