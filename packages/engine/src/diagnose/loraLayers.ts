import { executionSteps } from '@recur/graph';
import type { LoadedModel } from '../model.js';
import { perplexityWindows } from '../perplexity.js';
import { diagnoseModel, type DiagnoseResult } from './diagnose.js';

/**
 * `--lora-layers`: 'auto' (the inflection layers under the strict rule), `{ ranked: K }` (`auto:K`: the K steps
 * `inflectionRanking` puts first, for models where the rule flags none) or stored layer indices.
 */
export type LoraLayerSpec = 'auto' | { readonly ranked: number } | readonly number[];

/** Where LoRA trains: stored layers, and for a recursive model's auto choice, only the flagged loops of them. */
export interface LoraTargets {
  readonly layers: readonly number[];
  /** (layer, loop) pairs; absent: every loop of `layers`. */
  readonly steps?: readonly { readonly layer: number; readonly loop: number }[];
}

export function parseLoraLayers(text: string): LoraLayerSpec {
  if (text === 'auto') return 'auto';
  if (text.startsWith('auto:')) {
    const k = text.slice('auto:'.length);
    if (!/^\d+$/.test(k) || Number(k) < 1)
      throw new RangeError(`--lora-layers auto:K needs a whole number K ≥ 1 (the ranked steps to keep), got "${text}"`);
    return { ranked: Number(k) };
  }
  const parts = text.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p)))
    throw new RangeError(
      `--lora-layers must be auto, auto:K or a comma-separated list of layer indices, got "${text}"`,
    );
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

/**
 * The layers a spec names, checked against the model; 'auto' runs `diagnoseModel` on the first
 * `maxWindows` windows of `text` and takes its inflection steps (Wang 2025, arXiv 2511.00797: adapt
 * where gradients are suppressed). No inflection layer under the rule is an error, not a silent no-op.
 * `auto:K` diagnoses the same way and takes the K best-ranked steps (`rankedTargets`).
 */
export async function resolveLoraLayers(
  model: LoadedModel,
  spec: LoraLayerSpec,
  data: { readonly text: string; readonly window: number; readonly maxWindows?: number },
): Promise<LoraTargets> {
  const numLayers = model.decoder.config.numLayers;
  if (spec !== 'auto' && !('ranked' in spec)) {
    const bad = spec.find((l) => l >= numLayers);
    if (bad !== undefined)
      throw new RangeError(`--lora-layers: layer ${bad} does not exist (the model stores ${numLayers})`);
    return { layers: spec };
  }
  const ranked = spec === 'auto' ? undefined : spec.ranked;
  const steps = executionSteps(model.decoder.config).length;
  if (ranked !== undefined && ranked > steps)
    throw new RangeError(`--lora-layers auto:${ranked}: the model runs ${steps} steps; K must be 1..${steps}`);
  const windows = perplexityWindows(model, data.text, data.window).slice(0, data.maxWindows ?? 16);
  const diagnosis = await diagnoseModel(model, { windows });
  return ranked === undefined ? inflectionTargets(diagnosis) : rankedTargets(diagnosis, ranked);
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

/**
 * `auto:K`: the first K steps of the diagnosis's inflection ranking as (layer, loop) targets — K stored layers on a
 * model without recursion. The ranked fallback for models on which the strict rule flags nothing.
 */
export function rankedTargets(result: Pick<DiagnoseResult, 'inflectionRanking' | 'steps'>, k: number): LoraTargets {
  if (!(Number.isInteger(k) && k >= 1 && k <= result.inflectionRanking.length))
    throw new RangeError(`--lora-layers auto:${k}: K must be 1..${result.inflectionRanking.length} (the steps ranked)`);
  const chosen = result.inflectionRanking.slice(0, k).map((s) => result.steps[s]!);
  return {
    layers: [...new Set(chosen.map((s) => s.layer))].sort((a, b) => a - b),
    steps: chosen.map((s) => ({ layer: s.layer, loop: s.loop })),
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
