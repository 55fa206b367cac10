import { initBackend, type BackendName } from '@recur/tensor';
import { loadModel } from '@recur/engine/node';
import type { LoadedModel } from '@recur/engine';
import { progressBar } from '../progress.js';
import { parseNumber, UsageError } from '../errors.js';

export interface ModelOptions {
  readonly model?: string;
  readonly backend?: string;
  /** Loop count override for converted models. */
  readonly loops?: string;
  /** A PEFT LoRA adapter folder for a plain model. */
  readonly adapter?: string;
  /** wasm compute threads (default RECUR_THREADS, else 1). */
  readonly threads?: string;
}

/** Starts the tensor backend named by --backend / --threads. */
export async function startBackend(options: Pick<ModelOptions, 'backend' | 'threads'>): Promise<void> {
  const backend = options.backend as BackendName | undefined;
  if (backend !== undefined && !backends.includes(backend)) {
    throw new UsageError(`--backend must be one of ${backends.join(', ')}, got "${backend}"`);
  }
  const threads = options.threads === undefined ? {} : { threads: parseNumber('threads', options.threads, { integer: true, min: 1, max: 64 }) };
  await initBackend({ ...(backend ? { backend } : {}), ...threads });
}

const backends: readonly BackendName[] = ['wasm', 'cpu', 'webgpu'];

/** Starts the tensor backend and loads --model, with a progress bar over the tensors. */
export async function openModel(options: ModelOptions): Promise<LoadedModel> {
  if (!options.model) throw new UsageError('--model PATH is required (a Hugging Face folder, a .safetensors file or a .gguf file)');
  await startBackend(options);
  const bar = progressBar('loading');
  try {
    const loops = options.loops === undefined ? {} : { loops: parseNumber('loops', options.loops, { integer: true, min: 1 }) };
    const adapter = options.adapter === undefined ? {} : { adapter: options.adapter };
    return await loadModel(options.model, { ...loops, ...adapter, onProgress: (done, total) => bar.update(done, total) });
  } finally {
    bar.stop();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Fixed-width text table for terminal output. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()).join('\n');
}
