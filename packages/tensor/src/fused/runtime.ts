import * as tf from '@tensorflow/tfjs-core';
import { wasmThreads } from '../backend.js';
import { FusedPool } from './pool.js';

interface WasmBackendLike {
  wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  dispose(): void;
}

/**
 * The fused kernels' view of the running tfjs wasm backend: its heap (a SharedArrayBuffer on the
 * threaded binary, a plain growable ArrayBuffer on the single-threaded one), the byte offset of any
 * tensor in it, and a FusedPool over it. Weights are used where tfjs keeps them (no copy); scratch
 * and KV caches are tfjs tensors kept for the life of their owner, so tfjs's allocator never hands
 * their bytes to anyone else and `tf.memory()` accounts for them.
 */
export class FusedRuntime {
  private buffer: ArrayBufferLike | undefined;
  private f32View = new Float32Array(0);
  private i32View = new Int32Array(0);

  private constructor(
    private readonly backend: WasmBackendLike,
    readonly memory: WebAssembly.Memory,
    readonly pool: FusedPool,
  ) {}

  get threads(): number {
    return this.pool.threads;
  }

  /** Byte offset of a float32/int32 tensor's data in the wasm heap. */
  offsetOf(t: tf.Tensor): number {
    const entry = this.backend.dataIdMap.get(t.dataId);
    if (entry === undefined) throw new Error('FusedRuntime.offsetOf: the tensor is not on the wasm backend');
    return entry.memoryOffset;
  }

  /** A kept float32 tensor of `floats` zeros in the heap: the caller disposes it. */
  alloc(floats: number): { tensor: tf.Tensor1D; offset: number } {
    const tensor = tf.keep(tf.zeros([Math.max(1, floats)], 'float32')) as tf.Tensor1D;
    return { tensor, offset: this.offsetOf(tensor) };
  }

  /** Views of the whole heap; they change when tfjs grows it, so fetch them again after any tfjs op. */
  get f32(): Float32Array {
    this.refresh();
    return this.f32View;
  }

  get i32(): Int32Array {
    this.refresh();
    return this.i32View;
  }

  private refresh(): void {
    const buffer = this.memory.buffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.f32View = new Float32Array(buffer);
    this.i32View = new Int32Array(buffer);
  }

  /**
   * The runtime of the active backend, started on first use (Node wasm only); undefined elsewhere.
   * `threads` defaults to the backend's own (tfjs's threaded binary), 1 on the single-threaded one.
   */
  static async forActiveBackend(): Promise<FusedRuntime | undefined> {
    if (tf.getBackend() !== 'wasm' || typeof process === 'undefined') return undefined;
    const backend = tf.backend() as unknown as WasmBackendLike;
    const known = runtimes.get(backend);
    if (known) return known;
    const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
    if (memory === undefined) return undefined;
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const threads = shared ? Math.max(1, wasmThreads()) : 1;
    const pending = FusedPool.start(memory, threads).then((pool) => {
      const runtime = new FusedRuntime(backend, memory, pool);
      // The pool's workers share the backend's heap: stop them when tfjs disposes the backend.
      const dispose = backend.dispose.bind(backend);
      backend.dispose = () => {
        void pool.close();
        runtimes.delete(backend);
        dispose();
      };
      return runtime;
    });
    runtimes.set(backend, pending);
    return pending;
  }
}

const runtimes = new WeakMap<object, Promise<FusedRuntime> | FusedRuntime>();
