import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CheckpointError, configFromGguf, configFromHf, readGguf, type ModelConfig } from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import { layerWeightSpecs } from '@recur/graph';

/** PEFT's key for one LoRA factor of a Llama projection. */
const peftKey = /^base_model\.model\.model\.layers\.(\d+)\.(.+)\.lora_([AB])\.weight$/;

/**
 * Refuses adapter factors that cannot plug into this model: a layer it does not have, A not
 * [r, in] or B not [out, r] for the projection's weight, A and B of different rank, or one
 * without the other. (Decoding would otherwise skip or mis-shape them without a word.)
 */
export function checkAdapterFits(
  file: string,
  tensors: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  config: ModelConfig,
): void {
  for (const [key, { shape }] of tensors) {
    const match = peftKey.exec(key);
    if (!match) continue; // fromPeftAdapter names keys that are not LoRA factors
    const [, layerText, module, factor] = match as unknown as [string, string, string, 'A' | 'B'];
    const layer = Number(layerText);
    if (layer >= config.numLayers) {
      throw new CheckpointError(
        'unused-tensor',
        file,
        `tensor "${key}" adapts layer ${layer} but the model has ${config.numLayers} layers: the adapter was made for another model`,
      );
    }
    const weight = layerWeightSpecs(config, layer).find((s) => s.name === `model.layers.${layer}.${module}.weight`);
    if (!weight) continue;
    const [out, inputs] = weight.shape as [number, number];
    const rank = factor === 'A' ? shape[0] : shape[1];
    const fits = shape.length === 2 && (factor === 'A' ? shape[1] === inputs : shape[0] === out);
    if (!fits) {
      const needs = factor === 'A' ? `[r, ${inputs}]` : `[${out}, r]`;
      throw new CheckpointError(
        'shape-mismatch',
        file,
        `tensor "${key}" has shape [${shape.join(', ')}] but ${weight.name} is [${out}, ${inputs}], so lora_${factor} needs ${needs}`,
      );
    }
    const partnerKey = key.replace(/lora_[AB]\.weight$/, `lora_${factor === 'A' ? 'B' : 'A'}.weight`);
    const partner = tensors.get(partnerKey);
    if (!partner) throw new CheckpointError('missing-tensor', file, `tensor "${key}" has no matching "${partnerKey}"`);
    const partnerRank = factor === 'A' ? partner.shape[1] : partner.shape[0];
    if (rank !== partnerRank)
      throw new CheckpointError(
        'shape-mismatch',
        file,
        `tensor "${key}" has rank ${rank} but "${partnerKey}" has rank ${partnerRank}`,
      );
  }
}

/** The fields that decide whether an adapter's factors can mean anything on a model. */
const shapeFields = [
  ['numLayers', 'layers'],
  ['hiddenSize', 'hidden size'],
  ['intermediateSize', 'FFN size'],
  ['numHeads', 'heads'],
  ['numKvHeads', 'KV heads'],
  ['headDim', 'head_dim'],
  ['vocabSize', 'vocabulary'],
] as const;

/**
 * `base_model_name_or_path` is checked only where it names a model on disk other than the one
 * being loaded (Recur's own exports name the export folder itself): if that model's config
 * declares another shape, the adapter was made for it. A hub name or an unreadable path cannot
 * be compared; the shape check above is the hard one.
 */
export async function checkAdapterBase(
  configFile: string,
  base: unknown,
  model: { readonly path: string; readonly config: ModelConfig },
): Promise<void> {
  if (typeof base !== 'string' || base === '') return;
  const basePath = resolve(dirname(configFile), base);
  if (await samePlace(basePath, model.path)) return;
  const declared = await declaredConfig(basePath);
  if (!declared) return;
  for (const [field, label] of shapeFields) {
    if (declared[field] !== model.config[field]) {
      throw new CheckpointError(
        'shape-mismatch',
        configFile,
        `base_model_name_or_path "${base}" has ${declared[field]} ${label} but the model (${model.path}) has ${model.config[field]}: the adapter was made for another model`,
      );
    }
  }
}

async function samePlace(a: string, b: string): Promise<boolean> {
  const real = async (p: string): Promise<string[]> => {
    const path = await realpath(p).catch(() => resolve(p));
    const isFile = await stat(path).then(
      (s) => s.isFile(),
      () => false,
    );
    return isFile ? [path, dirname(path)] : [path];
  };
  const [left, right] = await Promise.all([real(a), real(b)]);
  return left.some((p) => right.includes(p));
}

/** The config a model path declares (config.json, or GGUF metadata), or undefined if there is none to read. */
async function declaredConfig(path: string): Promise<ModelConfig | undefined> {
  try {
    if (path.endsWith('.gguf')) {
      const source = await openFileSource(path);
      try {
        const gguf = await readGguf(source);
        return configFromGguf(
          gguf.metadata,
          path,
          gguf.tensors.map((t) => t.name),
        );
      } finally {
        await source.close?.();
      }
    }
    const folder = (await stat(path)).isDirectory() ? path : dirname(path);
    const file = join(folder, 'config.json');
    return configFromHf(JSON.parse(await readFile(file, 'utf8')), file);
  } catch {
    return undefined;
  }
}
