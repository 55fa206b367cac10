import '@tensorflow/tfjs-backend-webgpu'; // registers the 'webgpu' backend with tfjs-core

/** tfjs kernel names of Recur's WGSL kernels (registered for the 'webgpu' backend). */
export const webGpuKernelNames: readonly string[] = [];

export interface RegisterWebGpuOptions {
  /** Route Recur's ops to the WGSL kernels (default true); false keeps tfjs's own composites (for comparisons). */
  readonly recurKernels?: boolean;
}

let registered = false;

/**
 * Registers the WebGPU backend and Recur's kernels (idempotent). Call before `initBackend({ backend: 'webgpu' })`.
 */
export function registerWebGpuKernels(options: RegisterWebGpuOptions = {}): void {
  if (registered || options.recurKernels === false) return;
  registered = true;
}
