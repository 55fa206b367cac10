import { loraLayerFilter, parseLoraLayers, resolveLoraLayers, type LoadedModel, type LoraTargets } from '@recur/engine';
import { readTextFile } from '@recur/engine/node';
import { UsageError } from '../errors.js';

export const loraLayersFlag = '--lora-layers <auto|auto:K|list>';
export const loraLayersHelp =
  'train LoRA only on these stored layers: a list (0,3); auto — the inflection layers `recur diagnose` finds on the first 16 windows of --data under its strict rule (for a recursive model, only the flagged loops); auto:K — the K steps the same diagnosis ranks closest to inflection (entropy below the median first, then by the relative drop ‖∂L/∂h_s‖/‖∂L/∂h_{s+1}‖ ascending), the fallback when the rule flags none; narrows the model’s own adapter tensors (LoRA factors, per-loop norms), or with --lora-rank where the new adapter goes';

interface LoraLayersCliOptions {
  readonly loraLayers?: string;
  readonly data?: string;
  readonly fromScratch?: boolean;
}

/** The `trainableFilter` of `recur train --lora-layers` on a model's own LoRA, or undefined without the flag. */
export async function loraLayersFilter(
  options: LoraLayersCliOptions,
  model: LoadedModel,
): Promise<((name: string) => boolean) | undefined> {
  if (options.loraLayers === undefined) return undefined;
  if (model.mos)
    throw new UsageError('--lora-layers does not apply to a MoS model: its shard pools are shared by every layer');
  if (model.generatedLora)
    throw new UsageError(
      `--lora-layers narrows depth-wise LoRA; this model's ${model.generatedLora.spec.kind} LoRA shares its tensors across layers or loops`,
    );
  const targets = await loraLayerTargets(options, model);
  return targets && loraLayerFilter(targets);
}

/** Where `--lora-layers` puts LoRA on `model` (auto: its diagnosed inflection layers), or undefined without the flag. */
export async function loraLayerTargets(
  options: LoraLayersCliOptions,
  model: LoadedModel,
): Promise<LoraTargets | undefined> {
  if (options.loraLayers === undefined) return undefined;
  let spec: ReturnType<typeof parseLoraLayers>;
  try {
    spec = parseLoraLayers(options.loraLayers);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const diagnosed = spec === 'auto' || 'ranked' in spec;
  if (diagnosed && options.fromScratch)
    throw new UsageError(
      `--lora-layers ${options.loraLayers} diagnoses a trained model; a fresh one has no inflection layers to find`,
    );
  const text = diagnosed ? await readTextFile(options.data!) : '';
  const window = Math.min(128, model.config.maxPositionEmbeddings);
  const targets = await resolveLoraLayers(model, spec, { text, window });
  process.stderr.write(`recur: LoRA trains on layers ${targets.layers.join(', ')}\n`);
  return targets;
}
