import { activeBackend, initBackend, wasmThreads, webGpuAdapter, type BackendName } from '@recur/tensor';
import { loadComposition, loadModel } from '@recur/engine/node';
import type { LoadedModel } from '@recur/engine';
import { progressBar } from '../progress.js';
import { parseNumber, UsageError } from '../errors.js';

export interface ModelOptions {
  readonly model?: string;
  readonly backend?: string;
  /** Loop count override for converted models. */
  readonly loops?: string;
  /** PEFT LoRA adapter folders (--adapter, repeatable). */
  readonly adapter?: string | readonly string[];
  /** A DVPT folder (--dvpt). */
  readonly dvpt?: string;
  /** A composition folder (--composition), loaded onto the model after it. */
  readonly composition?: string;
  /** wasm compute threads (default RECUR_THREADS, else all cores). */
  readonly threads?: string;
  /** Models with per-domain ends: the domain to run (--domain, see domainOptions.ts). */
  readonly domain?: string;
}

/** Commands with two decoders (generate, eval, bench) also take --backend tfjs: the tfjs decoder on the wasm backend. */
export interface BackendChoice {
  readonly tfjsPath?: boolean;
}

export const pathBackendHelp =
  "wasm (default in Node: the fused fast path when the model allows it, else the tfjs decoder on wasm), tfjs (always the tfjs decoder, on wasm), cpu (the tfjs decoder on tfjs's cpu kernels), " +
  "webgpu (the tfjs decoder on a GPU through Dawn, the optional npm package webgpu, with Recur's WGSL kernels; without a GPU set VK_ICD_FILENAMES to a software Vulkan driver)";

/** Starts the tensor backend named by --backend / --threads (default: wasm on every core). */
export async function startBackend(
  options: Pick<ModelOptions, 'backend' | 'threads'>,
  choice: BackendChoice = {},
): Promise<void> {
  const named = options.backend;
  const allowed: readonly string[] = choice.tfjsPath ? [...backends, 'tfjs'] : backends;
  if (named !== undefined && !allowed.includes(named)) {
    throw new UsageError(
      `--backend must be one of ${allowed.join(', ')}, got "${named}"${named === 'tfjs' ? ' (tfjs picks the decoder in generate, eval and bench)' : ''}`,
    );
  }
  const backend = named === 'tfjs' ? 'wasm' : (named as BackendName | undefined);
  const threads =
    options.threads === undefined
      ? {}
      : { threads: parseNumber('threads', options.threads, { integer: true, min: 1, max: 64 }) };
  await initBackend({ ...(backend ? { backend } : {}), ...threads });
}

/**
 * The engine's `fast` option: --backend tfjs → false (the tfjs decoder); otherwise undefined, the
 * fused path wherever the model allows it. --fast is that default already (kept for scripts).
 */
export function fastOption(options: Pick<ModelOptions, 'backend'> & { readonly fast?: boolean }): false | undefined {
  if (options.backend !== 'tfjs') return undefined;
  if (options.fast)
    throw new UsageError('--fast and --backend tfjs contradict each other: --backend tfjs runs the tfjs decoder');
  return false;
}

/** Threads the backend computes on (the fused kernels use the same), for --json reports. */
export function computeThreads(): number {
  return activeBackend() === 'wasm' ? wasmThreads() : 1;
}

/** The --json fields that say where a command computed: backend, threads, and on webgpu the adapter Dawn chose. */
export function backendFields(): { backend: BackendName; threads: number; adapter?: string } {
  const adapter = activeBackend() === 'webgpu' ? webGpuAdapter() : undefined;
  return {
    backend: activeBackend(),
    threads: computeThreads(),
    ...(adapter && { adapter: adapter.description || adapter.device || adapter.vendor }),
  };
}

const backends: readonly BackendName[] = ['wasm', 'cpu', 'webgpu'];

/** Starts the tensor backend and loads --model, with a progress bar over the tensors. */
export async function openModel(options: ModelOptions, choice: BackendChoice = {}): Promise<LoadedModel> {
  if (!options.model)
    throw new UsageError('--model PATH is required (a Hugging Face folder, a .safetensors file or a .gguf file)');
  await startBackend(options, choice);
  const bar = progressBar('loading');
  try {
    const loops =
      options.loops === undefined ? {} : { loops: parseNumber('loops', options.loops, { integer: true, min: 1 }) };
    const adapter = options.adapter === undefined || options.adapter.length === 0 ? {} : { adapter: options.adapter };
    if (options.composition !== undefined && 'adapter' in adapter)
      throw new UsageError('--composition names its own adapters; give it or --adapter, not both');
    const model = await loadModel(options.model, {
      ...loops,
      ...adapter,
      ...(options.dvpt !== undefined && { dvpt: options.dvpt }),
      ...(options.domain !== undefined && { domain: options.domain }),
      onProgress: (done, total) => bar.update(done, total),
    });
    return options.composition === undefined ? model : await loadComposition(model, options.composition);
  } finally {
    bar.stop();
  }
}

/** --adapter DIR, repeatable (commander collects the values). */
export const collectAdapter = (value: string, previous: readonly string[] = []): string[] => [...previous, value];

export const adapterHelp =
  'a PEFT LoRA adapter folder (recur train --lora-rank, recur export --lora peft) for any model, plain or converted; repeat it for several: their deltas add (learned scales or gates: train --compose, then --composition)';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Fixed-width text table for terminal output. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
