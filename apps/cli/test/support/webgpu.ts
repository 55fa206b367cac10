import { existsSync } from 'node:fs';
import { initBackend, WebGpuUnavailableError } from '@recur/tensor';

const swiftShaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** The environment for `recur … --backend webgpu`: the suite's, with chromium's SwiftShader as the Vulkan driver when none is named. */
export function webGpuEnv(): NodeJS.ProcessEnv {
  const named = process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES;
  return named || !existsSync(swiftShaderIcd)
    ? { ...process.env }
    : { ...process.env, VK_ICD_FILENAMES: swiftShaderIcd };
}

/** Why WebGPU cannot start in Node under webGpuEnv(), or undefined when it can (probed in this process). */
export async function webGpuUnavailable(): Promise<string | undefined> {
  Object.assign(process.env, webGpuEnv());
  try {
    await initBackend({ backend: 'webgpu' });
    return undefined;
  } catch (err) {
    if (err instanceof WebGpuUnavailableError) return err.message;
    throw err;
  }
}

/** Run the suite when an adapter started, and always under CI=true (CI installs chromium and libvulkan1: a missing adapter fails there). */
export function runWebGpuSuite(unavailable: string | undefined, suite: string): boolean {
  if (unavailable === undefined || process.env.CI === 'true') return true;
  console.warn(`${suite}: skipped, no WebGPU adapter in Node (${unavailable}); CI=true fails instead`);
  return false;
}
