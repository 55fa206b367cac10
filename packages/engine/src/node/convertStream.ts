import { join, resolve } from 'node:path';
import type { ModelConfig } from '@recur/checkpoint';
import { loadCheckpoint, writeSafetensorsFile } from '@recur/checkpoint/node';
import { parameterCount, TyingError, type TyingPlan } from '@recur/graph';
import type { TruncationEnergy } from '@recur/lora';
import { conversionPlan } from '../conversion/plan.js';
import type { ConvertOptions } from '../conversion/options.js';
import { hfConfigJson, type RecurSection } from '../recurConfig.js';
import { configWithTiedHead } from '../tiedHead.js';
import { json, tokenizerFiles, writeAtomic } from './files.js';
import { configSections } from './load.js';
import { writeOutput, type OutputOptions } from './output.js';
import { isRecurModelDir, PRODUCER } from './ownOutput.js';

export interface ConvertSummary {
  readonly plan: TyingPlan;
  readonly loraEnergy: readonly TruncationEnergy[];
  readonly parameters: { readonly shared: number; readonly lora: number; readonly source: number };
  readonly recur: RecurSection;
  /** `loraKind: 'mos'`: parameters of its pools against depth-wise LoRA at the same ranks. */
  readonly mos?: { readonly pools: number; readonly depthwise: number };
  /** Bytes of model.safetensors. */
  readonly bytes: number;
}

/**
 * The streamed executor of `conversionPlan` (`convertModel` + `saveConvertedModel` in bounded memory):
 * the source is read tensor by tensor from its file and the folder's model.safetensors is written in
 * file order, each tensor made when the writer reaches it — the shared block's tensors, then each
 * shared step's adapters (its source layer and stored layer read, SVD'd, dropped). Peak ≈ one source
 * layer plus one stored layer, never the whole model (scaled LoRA's SVD start, which fits every loop of
 * a position at once, holds the adapted projections while it fits). Same files, byte for byte, as the
 * in-memory executor and `saveModel`.
 */
export async function convertToFolder(
  sourcePath: string,
  dir: string,
  options: ConvertOptions & OutputOptions,
): Promise<ConvertSummary> {
  const sections = await configSections(sourcePath);
  if (sections.recur) throw new TyingError('the source model is already recursive; convert its original instead');
  if (sections.masa)
    throw new TyingError(
      'a MASA model is not looped (its attention is already shared as atoms); convert its source instead',
    );
  const checkpoint = await loadCheckpoint(sourcePath);
  try {
    const sourceConfig = await configWithTiedHead(checkpoint);
    const source = {
      path: resolve(sourcePath),
      config: sourceConfig,
      parameters: parameterCount(sourceConfig),
      read: (key: string) => checkpoint.read(key),
    };
    const conversion = conversionPlan(source, options);
    const { plan, recur } = conversion;
    const target = { kind: 'dir' as const, sources: [sourcePath, ...(options.sources ?? [])], isOwn: isRecurModelDir };
    const { bytes } = await writeOutput(dir, { ...target, force: options.force ?? false }, async (temp) => {
      const tensors = [...conversion.decoder, ...conversion.lora];
      const written = await writeSafetensorsFile(join(temp, 'model.safetensors'), tensors, {
        format: 'pt',
        producer: PRODUCER,
      });
      const modelConfig: ModelConfig = { ...sourceConfig, numLayers: plan.uniqueLayers };
      await writeAtomic(join(temp, 'config.json'), json(hfConfigJson(modelConfig, recur)));
      for (const [name, content] of Object.entries(await tokenizerFiles(sourcePath)))
        await writeAtomic(join(temp, name), content);
      return written;
    });
    return {
      plan,
      loraEnergy: conversion.loraEnergy,
      parameters: conversion.parameters,
      recur,
      ...(conversion.mos && { mos: conversion.mos.counts }),
      bytes,
    };
  } finally {
    await checkpoint.close();
  }
}
