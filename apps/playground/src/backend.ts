import { initBackend, tf, type BackendName } from '@recur/tensor';
import { registerWebGpuKernels } from '@recur/tensor/webgpu';

/** What the page runs on, and the limits a model must fit. */
export interface ActiveBackend {
  readonly name: BackendName;
  /** Set for a WebGPU adapter that runs on the CPU. */
  readonly adapter?: string;
  /** Why the preferred backend was not used, when it was not. */
  readonly fallbackReason?: string;
  /** Largest single buffer the backend can hold (bytes); Infinity where the backend sets no such limit. */
  readonly maxBufferBytes: number;
  /** Largest total of model weights the page accepts on this backend (bytes). */
  readonly maxTotalBytes: number;
}

/**
 * tfjs's wasm heap is 32-bit (at most 4 GiB, and the binary may cap it lower); fp32 weights above
 * 2 GiB leave too little room for activations and the KV cache, so the page refuses them up front.
 */
const WASM_TOTAL_BYTES = 2 * 1024 ** 3;

/**
 * WebGPU where the browser offers an adapter (our WGSL kernels registered for the hot ops), else
 * wasm. `prefer: 'wasm'` skips WebGPU (the ?backend=wasm query parameter).
 */
export async function startBackend(
  prefer: BackendName,
  wasmPaths: string,
  options: { readonly recurKernels?: boolean } = {},
): Promise<ActiveBackend> {
  if (prefer === 'webgpu') {
    const gpu = await webGpuLimits();
    if (typeof gpu === 'string') return startWasm(wasmPaths, gpu);
    try {
      registerWebGpuKernels({ recurKernels: options.recurKernels ?? true });
      await initBackend({ backend: 'webgpu' });
      // On a CPU adapter (SwiftShader) tfjs's small-output matmul programs, built on workgroup
      // barriers, measured ≈20× slower per decode step than its tiled program (2 s vs 0.05–0.08 s per
      // stories260K token); pin the tiled one there. Real GPUs keep tfjs's own choice.
      if (gpu.cpuAdapter) tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', MATMUL_PACKED);
      return {
        name: 'webgpu',
        ...(gpu.cpuAdapter ? { adapter: 'SwiftShader (CPU)' } : {}),
        maxBufferBytes: gpu.maxBufferBytes,
        maxTotalBytes: Number.POSITIVE_INFINITY,
      };
    } catch (err) {
      return startWasm(wasmPaths, `WebGPU failed to start (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  return startWasm(wasmPaths, prefer === 'wasm' ? undefined : `${prefer} was not offered`);
}

async function startWasm(wasmPaths: string, fallbackReason: string | undefined): Promise<ActiveBackend> {
  const name = await initBackend({ backend: 'wasm', wasmPaths });
  return {
    name,
    ...(fallbackReason ? { fallbackReason } : {}),
    maxBufferBytes: WASM_TOTAL_BYTES,
    maxTotalBytes: WASM_TOTAL_BYTES,
  };
}

/** tfjs-backend-webgpu's MatMulProgramType.MatMulPackedProgram. */
const MATMUL_PACKED = 3;

/** The adapter's buffer limits and whether it runs on the CPU, or why there is no adapter. */
async function webGpuLimits(): Promise<{ maxBufferBytes: number; cpuAdapter: boolean } | string> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<AdapterLike | null> } }).gpu;
  if (!gpu) return 'this browser has no WebGPU (navigator.gpu is missing)';
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return 'WebGPU offered no adapter';
  const maxBufferBytes = Math.min(adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize);
  return { maxBufferBytes, cpuAdapter: adapter.info?.architecture === 'swiftshader' };
}

interface AdapterLike {
  readonly limits: { readonly maxStorageBufferBindingSize: number; readonly maxBufferSize: number };
  readonly info?: { readonly architecture?: string };
}
