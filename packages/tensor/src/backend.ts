import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { NodeWebGpuInfo } from './webgpu/node.js';

export type BackendName = 'wasm' | 'cpu' | 'webgpu';

const BACKEND_NAMES: readonly BackendName[] = ['wasm', 'cpu', 'webgpu'];

export interface InitBackendOptions {
  /** Force a backend; otherwise RECUR_BACKEND (Node), else webgpu in a browser that has it, else wasm. */
  readonly backend?: BackendName;
  /**
   * Where the tfjs `.wasm` binaries are served from (a URL or directory prefix ending in `/`).
   * Node finds them in the installed package; a browser bundle usually needs this.
   */
  readonly wasmPaths?: string;
  /**
   * Node, wasm backend: threads to compute on (default RECUR_THREADS, else every core, at most 64). Above 1, tfjs's
   * threaded-SIMD binary runs XNNPACK on that many threads and decode-time linears run on a GEMV
   * worker pool; if that cannot start, wasm runs single-threaded with a warning. Read only when the
   * wasm backend first starts.
   */
  readonly threads?: number;
}

// Requested backend → the backend that actually came up, once a fallback happened; later calls reuse it.
const fallbacks = new Map<BackendName, BackendName>();
// Calls run one after another, so concurrent callers never race tf.setBackend.
let queue: Promise<unknown> = Promise.resolve();
let wasmPathsConfigured = false;

/**
 * Chooses and initialises the tfjs backend; resolves to the one now active. Idempotent: calling it
 * again with the same choice is a no-op. A wasm failure falls back to cpu with a warning.
 */
export function initBackend(opts: InitBackendOptions = {}): Promise<BackendName> {
  const run = queue.then(() => activate(opts));
  queue = run.catch(() => undefined);
  return run;
}

/** The active tfjs backend. Throws if none was initialised or it is not one Recur knows. */
export function activeBackend(): BackendName {
  const name = tf.getBackend() as string | null; // tfjs types it `string`, but it is null before any setBackend
  if (name === null || name === undefined) throw new Error('no tfjs backend is active yet: await initBackend() first');
  if (!isBackendName(name))
    throw new Error(`the active tfjs backend '${name}' is not one of ${BACKEND_NAMES.join(', ')}`);
  return name;
}

async function activate(opts: InitBackendOptions): Promise<BackendName> {
  const explicit = opts.backend ?? envBackend();
  const wanted = explicit ?? defaultBackend();
  const target = fallbacks.get(wanted) ?? wanted;
  if (tf.getBackend() === target) return target;
  if (target === 'cpu') return setOrThrow('cpu');
  if (target === 'wasm') return activateWasm(opts.wasmPaths, opts.threads);
  return activateWebGpu(explicit === 'webgpu', opts.wasmPaths);
}

async function activateWasm(wasmPaths: string | undefined, threads?: number): Promise<BackendName> {
  const wantedThreads = threads ?? envThreads() ?? (await allCores());
  try {
    if (wasmPaths !== undefined) configureWasmPaths(wasmPaths);
    else if (!wasmPathsConfigured && isNode()) configureWasmPaths(await nodeWasmDirectory());
    await requestWasmThreads(wantedThreads);
    if (await tf.setBackend('wasm')) return 'wasm';
    throw new Error('tf.setBackend("wasm") reported failure');
  } catch (err) {
    console.warn(`recur: wasm backend unavailable (${messageOf(err)}); falling back to cpu (much slower)`);
    fallbacks.set('wasm', 'cpu');
    return setOrThrow('cpu');
  }
}

async function activateWebGpu(explicit: boolean, wasmPaths: string | undefined): Promise<BackendName> {
  if (isNode()) return activateNodeWebGpu();
  try {
    await loadWebGpuBackend();
  } catch (err) {
    const reason = `webgpu backend not installed: add @tensorflow/tfjs-backend-webgpu (${messageOf(err)})`;
    if (explicit) throw new Error(reason);
    console.warn(`recur: ${reason}; using wasm`);
    fallbacks.set('webgpu', 'wasm');
    return activateWasm(wasmPaths);
  }
  return setOrThrow('webgpu');
}

// Loaded on the first request for webgpu in Node: Dawn (npm `webgpu`) and tfjs-backend-webgpu, never in a browser.
let nodeWebGpu: typeof import('./webgpu/node.js') | undefined;

/** Node: Dawn's adapter under tfjs-backend-webgpu with Recur's WGSL kernels; errors name what to install or set. */
async function activateNodeWebGpu(): Promise<BackendName> {
  nodeWebGpu ??= await import('./webgpu/node.js');
  await nodeWebGpu.registerNodeWebGpu();
  return setOrThrow('webgpu');
}

/** Node, webgpu backend: the adapter Dawn picked (vendor, architecture, device, description); undefined before. */
export function webGpuAdapter(): NodeWebGpuInfo | undefined {
  return nodeWebGpu?.nodeWebGpuInfo();
}

// Loaded on the first request for threads: Node-only code that browser bundles never run.
let threadsModule: typeof import('./threads/enableWasmThreads.js') | undefined;

async function requestWasmThreads(threads: number): Promise<void> {
  if (threads <= 1 || !isNode()) return;
  try {
    threadsModule ??= await import('./threads/enableWasmThreads.js');
    if (!threadsModule.enableWasmThreads(threads))
      console.warn(`recur: the wasm backend is already running single-threaded; threads: ${threads} ignored`);
  } catch (err) {
    console.warn(`recur: wasm threads unavailable (${messageOf(err)}); using one thread`);
  }
}

/** Threads the wasm backend computes on: 1 unless it was started with `threads` > 1 in Node. */
export function wasmThreads(): number {
  return threadsModule?.runningWasmThreads() ?? 1;
}

// A variable specifier keeps bundlers and tsc from resolving a package we do not depend on yet.
const WEBGPU_MODULE = '@tensorflow/tfjs-backend-webgpu';

async function loadWebGpuBackend(): Promise<void> {
  // A bundle that imported '@recur/tensor/webgpu' has registered it
  // already (a bare dynamic specifier does not resolve in a browser).
  if (tf.findBackendFactory('webgpu') !== null) return;
  await import(/* @vite-ignore */ WEBGPU_MODULE); // registers 'webgpu' with tfjs-core
}

async function setOrThrow(name: BackendName): Promise<BackendName> {
  if (!(await tf.setBackend(name))) throw new Error(`tfjs failed to initialise the ${name} backend`);
  if (name === 'cpu' && isNode()) silenceCpuBanner();
  return name;
}

/**
 * tfjs's cpu backend prints an "install tfjs-node" banner (tfjs-node cannot install here) through
 * tfjs-core's warn() on its first tensor write. Make that first write now with PROD set — the flag
 * warn() honours — so the banner is skipped and later warnings still show.
 */
function silenceCpuBanner(): void {
  const env = tf.env();
  const prod = env.getBool('PROD');
  env.set('PROD', true);
  try {
    tf.tensor1d([0]).dispose();
  } finally {
    env.set('PROD', prod);
  }
}

function configureWasmPaths(prefix: string): void {
  setWasmPaths(prefix);
  wasmPathsConfigured = true;
}

/** Directory of the installed tfjs-backend-wasm `dist/`, where its .wasm binaries live. */
async function nodeWasmDirectory(): Promise<string> {
  const { createRequire } = await import('node:module');
  const { dirname, sep } = await import('node:path');
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + sep; // main = dist/tf-backend-wasm.node.js
}

function envBackend(): BackendName | undefined {
  if (!isNode()) return undefined;
  const value = process.env.RECUR_BACKEND;
  if (value === undefined || value === '') return undefined;
  if (!isBackendName(value))
    throw new Error(`RECUR_BACKEND='${value}' is not a backend: expected one of ${BACKEND_NAMES.join(', ')}`);
  return value;
}

function envThreads(): number | undefined {
  if (!isNode()) return undefined;
  const value = process.env.RECUR_THREADS;
  if (value === undefined || value === '') return undefined;
  const threads = Number(value);
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`RECUR_THREADS='${value}' is not a thread count: expected a whole number ≥ 1`);
  return threads;
}

/** Node's core count (os.availableParallelism), capped at 64; 1 elsewhere. */
async function allCores(): Promise<number> {
  if (!isNode()) return 1;
  const { availableParallelism } = await import('node:os');
  return Math.min(64, Math.max(1, availableParallelism()));
}

function defaultBackend(): BackendName {
  if (!isNode() && typeof navigator !== 'undefined' && 'gpu' in navigator) return 'webgpu';
  return 'wasm';
}

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err) return String(err.message);
  return String(err);
}
