import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeSafetensors } from '@recur/checkpoint';
import { writeSafetensorsFile } from '@recur/checkpoint/node';
import { decoderWeightSpecs } from '@recur/graph';
import { plainModel, type LoraExport } from '../export.js';
import { disposeModel, type LoadedModel } from '../model.js';
import { hfConfigJson } from '../recurConfig.js';
import { baseFingerprint } from './fingerprint.js';
import { json, tokenizerFiles, writeAtomic } from './files.js';
import { loadModel } from './load.js';
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
    const shapes = new Map(decoderWeightSpecs(plain.config).map((spec) => [spec.name, spec.shape]));
    const entries = plain.arrays.names.map((name) => {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`export: no shape known for tensor ${name}`);
      return { name, shape, dtype: 'F32' as const, data: () => made(plain.arrays.get(name), name) };
    });
    // streamed: one merged tensor at a time
    const weights = await writeSafetensorsFile(join(temp, 'model.safetensors'), entries, {
      format: 'pt',
      producer: PRODUCER,
    });
    await writeAtomic(join(temp, 'config.json'), json(hfConfigJson(plain.config)));
    for (const [name, content] of Object.entries(await tokenizerFiles(model.source.path)))
      await writeAtomic(join(temp, name), content);
    const parameters = entries.reduce((sum, e) => sum + e.shape.reduce((a, b) => a * b, 1), 0);
    const result = { dir, numLayers: plain.config.numLayers, parameters, bytes: weights.bytes };
    if (!plain.adapter) return result;
    await mkdir(join(temp, 'adapter'));
    const adapter = [...plain.adapter.tensors].map(([name, t]) => ({
      name,
      shape: t.shape,
      dtype: 'F32' as const,
      data: t.data,
    }));
    await writeAtomic(
      join(temp, 'adapter', 'adapter_model.safetensors'),
      writeSafetensors(adapter, { format: 'pt', producer: PRODUCER }),
    );
    // like a trained adapter, it names the weights it belongs to: those of the plain model just written
    const fingerprint = await writtenFingerprint(temp);
    await writeAtomic(
      join(temp, 'adapter', 'adapter_config.json'),
      json({ ...plain.adapter.config, recur_base_fingerprint: fingerprint }),
    );
    return { ...result, adapterDir: join(dir, 'adapter') };
  });
}

/** The base fingerprint of the model written in `dir`, computed as a reader of that folder will compute it. */
async function writtenFingerprint(dir: string): Promise<string> {
  const written = await loadModel(dir);
  try {
    return baseFingerprint(written);
  } finally {
    disposeModel(written);
  }
}

function made(data: Float32Array | undefined, name: string): Float32Array {
  if (!data) throw new Error(`export: no data for tensor ${name}`);
  return data;
}
