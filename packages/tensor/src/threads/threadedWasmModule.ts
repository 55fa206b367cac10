import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** What we use of tfjs's threaded-SIMD emscripten module (its own typings need @types/emscripten). */
export interface ThreadedWasmModule {
  readonly wasmMemory: WebAssembly.Memory;
  readonly PThread: { unusedWorkers: WorkerLike[]; readonly runningWorkers: readonly WorkerLike[] };
  cwrap(name: string, returnType: string | null, argTypes: readonly string[]): (...args: number[]) => number;
  _malloc(bytes: number): number;
  tfjs?: unknown;
}

interface WorkerLike {
  terminate(): unknown;
  unref?(): void;
}

type ReceiveInstance = (instance: WebAssembly.Instance, module: WebAssembly.Module) => void;

interface FactoryConfig {
  locateFile(path: string): string;
  mainScriptUrlOrBlob: string;
  instantiateWasm(imports: WebAssembly.Imports, receive: ReceiveInstance): object;
  onAbort(reason: unknown): void;
}

type ModuleFactory = (config: FactoryConfig) => Promise<ThreadedWasmModule>;

const PACKAGE = '@tensorflow/tfjs-backend-wasm';
const GLUE = 'tfjs-backend-wasm-threaded-simd.js';

/**
 * Instantiates tfjs-backend-wasm's threaded-SIMD binary in Node with an XNNPACK pool of `threads`.
 * tfjs itself never picks this binary in Node (its WASM_HAS_MULTITHREAD_SUPPORT flag is false
 * there) because it hands emscripten a blob: URL for the pthread worker, which worker_threads cannot
 * load. The worker script is plain CommonJS that already supports worker_threads, so a real file
 * holding it is all emscripten needs. Returns the module ready for `new BackendWasm(module)`.
 */
export async function loadThreadedWasmModule(
  threads: number,
): Promise<ThreadedWasmModule & ConstructorParameters<typeof BackendWasm>[0]> {
  const { createRequire } = await import('node:module');
  const { dirname, join } = await import('node:path');
  const { readFile } = await import('node:fs/promises');
  const require = createRequire(import.meta.url);
  const glue = require.resolve(`${PACKAGE}/wasm-out/${GLUE}`);
  const dir = dirname(glue);
  const factory = require(glue) as ModuleFactory;
  const { wasmWorkerContents } = require(`${PACKAGE}/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`) as {
    wasmWorkerContents: string;
  };
  // tfjs escapes newlines before making its blob (a string literal in the script spans them).
  const workerFile = await contentAddressedFile('recur-tfjs-pthread', '.cjs', wasmWorkerContents.replace(/\n/g, '\\n'));
  const binary = await readFile(join(dir, 'tfjs-backend-wasm-threaded-simd.wasm'));

  const module = await new Promise<ThreadedWasmModule>((resolve, reject) => {
    factory({
      locateFile: (path) => (path.endsWith('.worker.js') ? workerFile : join(dir, path)),
      mainScriptUrlOrBlob: glue, // each pthread worker evaluates the glue from this path
      instantiateWasm(imports, receive) {
        // tfjs caps XNNPACK's pool at logical cores / 2 (it assumes hyperthreads), 1 on a 2-vCPU machine.
        const env = imports.env as Record<string, unknown>;
        env.emscripten_num_logical_cores = () => 2 * threads;
        WebAssembly.instantiate(binary, imports).then(
          ({ instance, module: compiled }) => receive(instance, compiled),
          reject,
        );
        return {};
      },
      onAbort: (reason) => reject(new Error(`tfjs threaded wasm aborted: ${String(reason)}`)),
    }).then(resolve, reject);
  });
  const fn = (name: string, ret: string | null, args: readonly string[]): ((...a: number[]) => number) =>
    module.cwrap(name, ret, args);
  module.tfjs = {
    init: fn('init', null, []),
    initWithThreadsCount: fn('init_with_threads_count', null, ['number']),
    getThreadsCount: fn('get_threads_count', 'number', []),
    registerTensor: fn('register_tensor', null, ['number', 'number', 'number']),
    disposeData: fn('dispose_data', null, ['number']),
    dispose: fn('dispose', null, []),
  };
  return module as ThreadedWasmModule & ConstructorParameters<typeof BackendWasm>[0];
}

/**
 * Once XNNPACK's pool holds its threads: drop the spare pre-spawned workers (emscripten starts 8,
 * each with its own copy of the module) and let the pool's sleeping ones not keep Node alive.
 */
export function trimPthreadWorkers(module: ThreadedWasmModule): void {
  for (const worker of module.PThread.unusedWorkers) worker.terminate();
  module.PThread.unusedWorkers = [];
  for (const worker of module.PThread.runningWorkers) worker.unref?.();
}

/** A file in the OS temp directory holding `contents`, named by their hash, written atomically once. */
async function contentAddressedFile(prefix: string, ext: string, contents: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { readFile, rename, writeFile } = await import('node:fs/promises');
  const hash = createHash('sha256').update(contents).digest('hex').slice(0, 16);
  const path = join(tmpdir(), `${prefix}-${hash}${ext}`);
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing === contents) return path;
  const partial = `${path}.${process.pid}.tmp`;
  await writeFile(partial, contents);
  await rename(partial, path);
  return path;
}
