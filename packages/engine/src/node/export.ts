import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeSafetensors, type SafetensorsWriteEntry } from '@recur/checkpoint';
import { decoderWeightSpecs } from '@recur/graph';
import { plainModel, type LoraExport } from '../export.js';
import type { LoadedModel } from '../model.js';
import { hfConfigJson } from '../recurConfig.js';
import { json, tokenizerFiles, writeAtomic } from './files.js';
import { writeOutput, type OutputOptions } from './output.js';
import { isRecurModelDir, PRODUCER } from './ownOutput.js';

export interface ExportResult {
  readonly dir: string;
  readonly numLayers: number;
  readonly parameters: number;
  readonly bytes: number;
  /** Where the PEFT adapter went (`lora: 'peft'` on a model with LoRA). */
  readonly adapterDir?: string;
}

/**
 * Writes `model` as a plain Hugging Face Llama folder (config.json, model.safetensors, tokenizer)
 * that any Llama loader reads. A recursive model is unrolled (see `plainModel`); with
 * `lora: 'peft'` its adapters go to `<dir>/adapter` (adapter_config.json + adapter_model.safetensors).
 * Written whole beside `dir` and renamed into place (see `writeOutput`).
 */
export async function exportModel(
  model: LoadedModel,
  dir: string,
  options: { lora?: LoraExport; dropRouter?: boolean } & OutputOptions = {},
): Promise<ExportResult> {
  const plain = plainModel(model, {
    lora: options.lora ?? 'merge',
    baseModelPath: resolve(dir),
    dropRouter: options.dropRouter ?? false,
  });
  const target = {
    kind: 'dir' as const,
    sources: [model.source.path, ...(options.sources ?? [])],
    ...(options.force !== undefined && { force: options.force }),
    isOwn: isRecurModelDir,
  };
  return writeOutput(dir, target, async (temp) => {
    const shapes = new Map(decoderWeightSpecs(plain.config).map((spec) => [spec.name, spec]));
    const weights = safetensorsOf(plain.arrays, shapes);
    await writeAtomic(join(temp, 'model.safetensors'), weights);
    await writeAtomic(join(temp, 'config.json'), json(hfConfigJson(plain.config)));
    for (const [name, content] of Object.entries(await tokenizerFiles(model.source.path)))
      await writeAtomic(join(temp, name), content);
    let parameters = 0;
    for (const data of plain.arrays.values()) parameters += data.length;
    const result = { dir, numLayers: plain.config.numLayers, parameters, bytes: weights.byteLength };
    if (!plain.adapter) return result;
    await mkdir(join(temp, 'adapter'));
    await writeAtomic(
      join(temp, 'adapter', 'adapter_model.safetensors'),
      safetensorsOf(new Map([...plain.adapter.tensors].map(([k, t]) => [k, t.data])), plain.adapter.tensors),
    );
    await writeAtomic(join(temp, 'adapter', 'adapter_config.json'), json(plain.adapter.config));
    return { ...result, adapterDir: join(dir, 'adapter') };
  });
}

function safetensorsOf(
  arrays: ReadonlyMap<string, Float32Array>,
  shapes: ReadonlyMap<string, { shape: readonly number[] }>,
): Uint8Array {
  const entries: SafetensorsWriteEntry[] = [];
  for (const [name, data] of arrays) {
    const shape = shapes.get(name)?.shape;
    if (!shape) throw new Error(`export: no shape known for tensor ${name}`);
    entries.push({ name, shape, dtype: 'F32', data });
  }
  return writeSafetensors(entries, { format: 'pt', producer: PRODUCER });
}
