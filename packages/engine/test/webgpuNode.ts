import { existsSync } from 'node:fs';
import { initBackend, WebGpuUnavailableError } from '@recur/tensor';

/** chromium's SwiftShader Vulkan driver: the software adapter the golden WebGPU tests run on without a GPU. */
export const swiftShaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Starts the webgpu backend in Node (Dawn). Without a Vulkan driver named, points the loader at
 * SwiftShader when chromium ships it. Resolves to undefined when it started, else to why not —
 * the caller skips locally and fails under CI=true (CI installs chromium and libvulkan1).
 */
export async function startNodeWebGpu(): Promise<string | undefined> {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(swiftShaderIcd))
    process.env.VK_ICD_FILENAMES = swiftShaderIcd;
  try {
    await initBackend({ backend: 'webgpu' });
    return undefined;
  } catch (err) {
    if (err instanceof WebGpuUnavailableError) return err.message;
    throw err;
  }
}

/** Whether WebGPU suites run: when an adapter started, and always under CI=true (where a missing one must fail). */
export function runWebGpuSuite(unavailable: string | undefined, suite: string): boolean {
  if (unavailable === undefined || process.env.CI === 'true') return true;
  console.warn(`${suite}: skipped, no WebGPU adapter in Node (${unavailable}); CI=true fails instead`);
  return false;
}
