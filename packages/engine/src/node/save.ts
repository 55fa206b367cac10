import { join, resolve } from 'node:path';
import { writeSafetensors, type SafetensorsWriteEntry } from '@recur/checkpoint';
import { decoderWeightSpecs, type DecoderConfig } from '@recur/graph';
import type { LoadedModel } from '../model.js';
import { domainEntries, savedEnds } from '../domainEnds.js';
import { hfConfigJson, type RecurSection } from '../recurConfig.js';
import { json, tokenizerFiles, writeAtomic } from './files.js';
import { writeOutput, type OutputOptions } from './output.js';
import { isRecurModelDir, PRODUCER } from './ownOutput.js';

/**
 * Writes a model as a HF-style folder Recur reloads exactly: model.safetensors (a recursive model's
 * shared weights stored once, its LoRA beside them), config.json (with the `recur` section of a
 * converted model) and the tokenizer. The folder is written whole beside `dir` and renamed into
 * place (see `writeOutput`): never into the model's own source, never over a folder Recur did not
 * write unless `force`.
 */
export async function saveModel(
  model: LoadedModel,
  dir: string,
  options: OutputOptions = {},
): Promise<{ bytes: number }> {
  const sources = [model.source.path, ...(options.sources ?? [])];
  return writeOutput(
    dir,
    { kind: 'dir', sources, ...(options.force !== undefined && { force: options.force }), isOwn: isRecurModelDir },
    async (temp) => {
      const entries = await modelTensorEntries(model);
      const weights = writeSafetensors(entries, { format: 'pt', producer: PRODUCER });
      await writeAtomic(join(temp, 'model.safetensors'), weights);
      await writeAtomic(join(temp, 'config.json'), json(savedConfigJson(model)));
      for (const [name, content] of Object.entries(await tokenizerFiles(model.source.path)))
        await writeAtomic(join(temp, name), content);
      return { bytes: weights.byteLength };
    },
  );
}

/** Every tensor a saved model holds, by checkpoint key: decoder weights, MASA atoms, LoRA as stored (depth-wise factors, MoS pools and tables, or a generated kind's generators / templates and scales; and per-loop norms), router (`mor.*`). */
export async function modelTensorEntries(model: LoadedModel): Promise<SafetensorsWriteEntry[]> {
  const entries: SafetensorsWriteEntry[] = [];
  // a MASA model stores its atoms and coefficients, not the per-layer matrices they make
  const derived = model.masa?.dictionary.keys;
  for (const [name, tensor] of [
    ...[...model.decoder.weights].filter(([name]) => !derived?.has(name)),
    ...(model.masa?.dictionary.tensors ?? []),
    // MoS and generated (hyper, scaled) LoRA store what they are computed from, not the factors they make
    ...(model.mos ? [...model.mos.pools, ...model.mos.norms] : ((model.generatedLora ?? model.lora)?.tensors ?? [])),
    ...(model.routerParams ?? []),
  ]) {
    entries.push({ name, shape: tensor.shape, dtype: 'F32', data: (await tensor.data()) as Float32Array });
  }
  for (const [name, { data, shape }] of model.mos?.indexArrays() ?? [])
    entries.push({ name, shape, dtype: 'F32', data });
  for (const entry of await domainEntries(model)) entries.push({ ...entry, dtype: 'F32' });
  return entries;
}

/** config.json of a saved model: Llama fields plus the `recur` or `masa` section (source path made absolute). */
export function savedConfigJson(model: LoadedModel): Record<string, unknown> {
  const masa = model.masa?.section;
  const reuse = model.decoder.config.echoAttention ?? [];
  const recur = savedEnds(model);
  return {
    ...hfConfigJson(model.config, recur && absoluteSource(recur)),
    ...(masa ? { masa: { ...masa, source: { ...masa.source, path: resolve(masa.source.path) } } } : {}),
    ...(reuse.length > 0 ? { echo: { reuse, dropped: droppedByEcho(model.decoder.config) } } : {}),
  };
}

/** The q/k tensors an EchoAtt plan leaves out (config.json's `echo.dropped`, so the file check expects them absent). */
function droppedByEcho(config: DecoderConfig): string[] {
  const kept = new Set(decoderWeightSpecs(config).map((spec) => spec.name));
  return decoderWeightSpecs({ ...config, echoAttention: [] })
    .map((spec) => spec.name)
    .filter((name) => !kept.has(name));
}

/** A converted model's folder (see `saveModel`). */
export const saveConvertedModel = saveModel;

/** The source path stored absolute, so distilling from the saved model works from any folder. */
function absoluteSource(recur: RecurSection): RecurSection {
  return { ...recur, source: { ...recur.source, path: resolve(recur.source.path) } };
}
