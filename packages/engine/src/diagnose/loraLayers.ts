import type { LoadedModel } from '../model.js';
import { perplexityWindows } from '../perplexity.js';
import { diagnoseModel, type DiagnoseResult } from './diagnose.js';

/** `--lora-layers`: 'auto' (the diagnosed inflection layers) or stored layer indices. */
export type LoraLayerSpec = 'auto' | readonly number[];

/** Where LoRA trains: stored layers, and for a recursive model's auto choice, only the flagged loops of them. */
export interface LoraTargets {
  readonly layers: readonly number[];
  /** (layer, loop) pairs; absent: every loop of `layers`. */
  readonly steps?: readonly { readonly layer: number; readonly loop: number }[];
}

export function parseLoraLayers(text: string): LoraLayerSpec {
  if (text === 'auto') return 'auto';
  const parts = text.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p)))
    throw new RangeError(`--lora-layers must be auto or a comma-separated list of layer indices, got "${text}"`);
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

/**
 * The layers a spec names, checked against the model; 'auto' runs `diagnoseModel` on the first
 * `maxWindows` windows of `text` and takes its inflection steps (Wang 2025, arXiv 2511.00797: adapt
 * where gradients are suppressed). No inflection layer under the rule is an error, not a silent no-op.
 */
export async function resolveLoraLayers(
  model: LoadedModel,
  spec: LoraLayerSpec,
  data: { readonly text: string; readonly window: number; readonly maxWindows?: number },
): Promise<LoraTargets> {
  const numLayers = model.decoder.config.numLayers;
  if (spec !== 'auto') {
    const bad = spec.find((l) => l >= numLayers);
    if (bad !== undefined)
      throw new RangeError(`--lora-layers: layer ${bad} does not exist (the model stores ${numLayers})`);
    return { layers: spec };
  }
  const windows = perplexityWindows(model, data.text, data.window).slice(0, data.maxWindows ?? 16);
  return inflectionTargets(await diagnoseModel(model, { windows }));
}

/** The LoRA targets of a diagnosis: its inflection steps as (layer, loop) pairs; none flagged is an error. */
export function inflectionTargets(
  result: Pick<DiagnoseResult, 'inflectionLayers' | 'inflectionSteps' | 'steps' | 'rule'>,
): LoraTargets {
  if (result.inflectionLayers.length === 0)
    throw new RangeError(`--lora-layers auto: no inflection layer under the rule (${result.rule}); pass a list`);
  return {
    layers: result.inflectionLayers,
    steps: result.inflectionSteps.map((s) => ({ layer: result.steps[s]!.layer, loop: result.steps[s]!.loop })),
  };
}

const adapterKey = /^model\.layers\.(\d+)\..*\.(?:lora_[AB]\.)?loop(\d+)\.weight$/;

/**
 * A trainable-name filter: adapter tensors (LoRA factors, per-loop norms) pass only at the targets;
 * every other name passes, so the filter narrows the LoRA part of a `--trainable` selection only.
 */
export function loraLayerFilter(targets: LoraTargets): (name: string) => boolean {
  const layers = new Set(targets.layers);
  const steps = targets.steps && new Set(targets.steps.map((s) => `${s.layer}:${s.loop}`));
  return (name) => {
    const match = adapterKey.exec(name);
    if (!match) return true;
    const [layer, loop] = [Number(match[1]), Number(match[2])];
    return steps ? steps.has(`${layer}:${loop}`) : layers.has(layer);
  };
}
