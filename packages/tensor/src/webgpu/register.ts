import '@tensorflow/tfjs-backend-webgpu'; // registers the 'webgpu' backend with tfjs-core
import * as tf from '@tensorflow/tfjs-core';
import { registerKernel } from '../kernels.js';
import { ATTENTION, attentionKernel } from './attention.js';
import { batchedLoraKernel } from './lora.js';
import { RMS_NORM, rmsNormKernel } from './rmsNorm.js';
import { ROPE, ropeKernel, ropeTables } from './rope.js';
import { kernelsRegistered, markRegistered } from './state.js';

/** tfjs kernel names of Recur's WGSL kernels (registered for the 'webgpu' backend). */
export const webGpuKernelNames: readonly string[] = [RMS_NORM, ROPE, ATTENTION, batchedLoraKernel.kernelName];

export interface RegisterWebGpuOptions {
  /** Route Recur's ops to the WGSL kernels (default true); false keeps the tfjs composites (for comparisons). */
  readonly recurKernels?: boolean;
}

/**
 * Loads the WebGPU backend and registers Recur's WGSL kernels as tfjs kernels for 'webgpu'; the
 * ops rmsNorm, applyRope and causalAttention then dispatch to them whenever webgpu is the active
 * backend. Idempotent. Call before `initBackend({ backend: 'webgpu' })`.
 */
export function registerWebGpuKernels(options: RegisterWebGpuOptions = {}): void {
  if (kernelsRegistered() || options.recurKernels === false) return;
  for (const config of [rmsNormKernel, ropeKernel, attentionKernel, batchedLoraKernel]) tf.registerKernel(config);
  registerKernel(
    'RecurRmsNorm',
    'webgpu',
    (x, weight, eps) => tf.engine().runKernel(RMS_NORM, { x, weight }, { eps }) as tf.Tensor,
  );
  registerKernel('RecurApplyRope', 'webgpu', (x, positions, invFreq) => {
    const { cos, sin } = ropeTables(positions, invFreq);
    const half = invFreq.length;
    return tf.tidy(
      () =>
        tf.engine().runKernel(ROPE, {
          x,
          cos: tf.tensor2d(cos, [positions.length, half]),
          sin: tf.tensor2d(sin, [positions.length, half]),
        }) as tf.Tensor3D,
    );
  });
  registerKernel(
    'RecurCausalAttention',
    'webgpu',
    (q, k, v, opts) => tf.engine().runKernel(ATTENTION, { q, k, v }, { queryOffset: opts.queryOffset }) as tf.Tensor2D,
  );
  markRegistered();
}
