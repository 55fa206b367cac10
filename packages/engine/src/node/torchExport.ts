import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSafetensors } from '@recur/checkpoint';
import type { LoadedModel } from '../model.js';
import { json, tokenizerFiles, writeAtomic } from './files.js';
import { writeOutput, type OutputOptions } from './output.js';
import { isRecurModelDir, PRODUCER } from './ownOutput.js';
import { modelTensorEntries, savedConfigJson } from './save.js';

/** The PyTorch model files (the model, the shared forms it imports) and the distributed uptraining script, shipped in this package's assets/torch. */
export const TORCH_FILES = ['modeling_recur.py', 'sharing_recur.py', 'uptrain_recur.py'] as const;

export interface TorchExportResult {
  readonly dir: string;
  readonly files: readonly string[];
  readonly tensors: number;
  readonly parameters: number;
  readonly bytes: number;
  /** Loops of the shared block (1 for a plain model) and the router kind, if any. */
  readonly loops: number;
  readonly router: 'expert' | 'token' | null;
}

/**
 * Writes a folder plain PyTorch loads and trains (`RecurForCausalLM.from_pretrained(dir)`):
 * modeling_recur.py, config.json (Llama fields + the `recur` section + `auto_map` for transformers'
 * trust_remote_code), model.safetensors under Recur's own tensor names (shared block once, LoRA as
 * stored — depth-wise factors, scaled templates and scales, hyper generators and embeddings, MoS pools
 * and index tables —, MASA atoms and coefficients, per-loop norms, `mor.*` router tensors: the layout
 * `saveModel` writes, so Recur reloads it), sharing_recur.py (those shared forms in PyTorch), the
 * tokenizer and uptrain_recur.py (torchrun DDP uptraining). Written whole, then renamed into place.
 */
export async function exportTorch(
  model: LoadedModel,
  dir: string,
  options: OutputOptions = {},
): Promise<TorchExportResult> {
  const sources = [model.source.path, ...(options.sources ?? [])];
  const target = {
    kind: 'dir' as const,
    sources,
    ...(options.force !== undefined && { force: options.force }),
    isOwn: isRecurModelDir,
  };
  const python = await Promise.all(
    TORCH_FILES.map(async (name) => [name, await readFile(torchAsset(name), 'utf8')] as const),
  );
  return writeOutput(dir, target, async (temp) => {
    // every shared form in its stored form (what trains), as saveModel writes it
    const entries = await modelTensorEntries(model);
    const weights = writeSafetensors(entries, { format: 'pt', producer: PRODUCER });
    await writeAtomic(join(temp, 'model.safetensors'), weights);
    await writeAtomic(join(temp, 'config.json'), json(torchConfigJson(model)));
    const tokenizer = await tokenizerFiles(model.source.path);
    for (const [name, content] of [...python, ...Object.entries(tokenizer)])
      await writeAtomic(join(temp, name), content);
    // MoS index tables are stored integers, not parameters
    const tables = new Set(model.mos?.indexArrays().keys());
    const parameters = entries.reduce((sum, e) => sum + (tables.has(e.name) ? 0 : e.data.length), 0);
    const loops = model.recur ? model.decoder.loops.loops.length : 1;
    const files = ['config.json', 'model.safetensors', ...python.map(([name]) => name), ...Object.keys(tokenizer)];
    return {
      dir,
      files,
      tensors: entries.length,
      parameters,
      bytes: weights.byteLength,
      loops,
      router: model.recur?.router?.kind ?? null,
    };
  });
}

/** Recur's config.json with the architecture and transformers' remote-code map pointing at modeling_recur.py. */
export function torchConfigJson(model: LoadedModel): Record<string, unknown> {
  return {
    ...savedConfigJson(model),
    architectures: ['RecurForCausalLM'],
    auto_map: { AutoConfig: 'modeling_recur.RecurConfig', AutoModelForCausalLM: 'modeling_recur.RecurForCausalLM' },
  };
}

/** assets/torch/NAME of this package, from src/node (tests) or dist (built, installed): the nearest ancestor holding it. */
export function torchAsset(name: (typeof TORCH_FILES)[number]): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(folder, 'assets', 'torch', name);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(folder);
    if (parent === folder) throw new Error(`@recur/engine: assets/torch/${name} is missing from the package`);
    folder = parent;
  }
}
