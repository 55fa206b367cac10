/**
 * @recur/tensor/webgpu — the browser entry: loads tfjs-backend-webgpu and registers Recur's own
 * WGSL kernels (fused RMSNorm, RoPE, attention over a KV cache, batched per-row LoRA) for the hot
 * ops. In Node, `initBackend({ backend: 'webgpu' })` registers the same kernels over Dawn (./node.ts).
 */
export { registerWebGpuKernels, webGpuKernelNames, type RegisterWebGpuOptions } from './register.js';
export { batchedLora } from './batchedLora.js';
export { kernelsRegistered } from './state.js';
