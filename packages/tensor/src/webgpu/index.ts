/**
 * @recur/tensor/webgpu — the browser-only entry: loads tfjs-backend-webgpu and registers Recur's own
 * WGSL kernels for the hot ops. Node code never imports this file.
 */
export { registerWebGpuKernels, webGpuKernelNames } from './register.js';
