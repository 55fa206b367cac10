/**
 * WebGPU in Node: Dawn's `dawn.node` (npm `webgpu`) stands in for the browser's `navigator.gpu`.
 * tfjs-backend-webgpu registers its backend only where `navigator.gpu` exists at import time, so in
 * Node Recur registers the 'webgpu' backend itself — over a device it asked Dawn for — and routes
 * Recur's ops to the WGSL kernels, as the browser entry does. Loaded only by initBackend in Node.
 */
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { WebGpuUnavailableError } from '../errors.js';
import { registerWebGpuKernels } from './register.js';
import { missingVulkanDriver } from './vulkanDrivers.js';

// A variable specifier: `webgpu` is an optional dependency that bundlers and tsc must not resolve.
const DAWN_MODULE = 'webgpu';

/** The software adapter this repo tests on: chromium's SwiftShader Vulkan driver (Debian's chromium package). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** The part of the `webgpu` package Recur uses: `create(dawnOptions)` → a `navigator.gpu`, and the WebGPU globals. */
interface DawnModule {
  readonly create: (options: string[]) => GPU;
  readonly globals: object;
}

/** The adapter Dawn chose, for reports (`--json`) and skip messages. */
export interface NodeWebGpuInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
}

// Dawn's instance: it lives as long as this reference (the package README's "Lifetime" note).
let gpu: GPU | undefined;
let adapterInfo: NodeWebGpuInfo | undefined;

/**
 * Registers tfjs's 'webgpu' backend over Dawn's first high-performance adapter, and Recur's WGSL
 * kernels. Idempotent. Throws WebGpuUnavailableError naming what to install or set.
 */
export async function registerNodeWebGpu(): Promise<NodeWebGpuInfo> {
  if (adapterInfo !== undefined && tf.findBackendFactory('webgpu') !== null) return adapterInfo;
  const dawn = await loadDawn();
  const noDriver = await missingVulkanDriver(SETUP_HINT);
  if (noDriver !== undefined) throw new WebGpuUnavailableError(noDriver);
  Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode… which tfjs reads as globals
  gpu ??= dawn.create([]);
  exposeAsNavigatorGpu(gpu);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) throw new WebGpuUnavailableError(noAdapterReason());
  const device = await adapter.requestDevice(deviceDescriptor(adapter));
  const info = adapter.info;
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu'); // a factory registered by tfjs itself (a Node with navigator.gpu) would ask for its own device
  tf.registerBackend('webgpu', () => new NodeWebGpuBackend(device, info), 3);
  registerWebGpuKernels();
  adapterInfo = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
  };
  return adapterInfo;
}

/** The adapter the Node webgpu backend runs on, once registerNodeWebGpu succeeded. */
export function nodeWebGpuInfo(): NodeWebGpuInfo | undefined {
  return adapterInfo;
}

/**
 * tfjs reads GPU data synchronously (dataSync) through an OffscreenCanvas, which Node lacks: name the
 * limit instead of a bare ReferenceError. Paths that read synchronously (early exit, routers) run on wasm.
 */
class NodeWebGpuBackend extends WebGPUBackend {
  override readSync(dataId: object): tf.backend_util.BackendValues {
    try {
      return super.readSync(dataId);
    } catch (err) {
      if (!(err instanceof ReferenceError)) throw err;
      throw new WebGpuUnavailableError(
        `this path reads GPU data synchronously (dataSync), which webgpu in Node cannot (${err.message}); run it on wasm`,
      );
    }
  }
}

/** tfjs's WebGPUBackend refuses to construct unless `navigator.gpu` exists (Node 20 has no navigator; 21+ one without gpu). */
function exposeAsNavigatorGpu(instance: GPU): void {
  const scope = globalThis as { navigator?: object };
  if (scope.navigator === undefined)
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  Object.defineProperty(scope.navigator, 'gpu', { value: instance, configurable: true });
}

async function loadDawn(): Promise<DawnModule> {
  try {
    return (await import(/* @vite-ignore */ DAWN_MODULE)) as DawnModule;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new WebGpuUnavailableError(
      `the webgpu backend in Node needs the npm package 'webgpu' (Dawn), an optional dependency of @recur/cli that did not install here (${why})`,
    );
  }
}

/** The limits and features tfjs-backend-webgpu's own factory asks for (its base.ts), so kernels see the same device. */
function deviceDescriptor(adapter: GPUAdapter): GPUDeviceDescriptor {
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const limits = adapter.limits;
  return {
    requiredFeatures,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  };
}

const SETUP_HINT = `install the GPU's Vulkan driver (and libvulkan1), or without a GPU set VK_ICD_FILENAMES=${SWIFTSHADER_ICD} (chromium's software adapter)`;

function noAdapterReason(): string {
  const icd = process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES;
  return `no WebGPU adapter found${icd ? ` with the Vulkan driver ${icd}` : ''}: ${SETUP_HINT}`;
}
