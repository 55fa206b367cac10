import { adaptedModules, type LayerCall } from '@recur/graph';
import { DepthwiseLora } from './depthwiseLora.js';
import type { ArrayTensor } from './init.js';
import { loraKey } from './keys.js';
import { LoraError } from './init.js';

/** adapter_config.json of a PEFT LoRA adapter (the fields PEFT reads; scaling = alpha / r per module). */
export interface PeftAdapterConfig {
  readonly peft_type: 'LORA';
  readonly task_type: 'CAUSAL_LM';
  readonly base_model_name_or_path: string;
  readonly r: number;
  readonly lora_alpha: number;
  readonly target_modules: string[];
  readonly rank_pattern: Record<string, number>;
  readonly alpha_pattern: Record<string, number>;
  readonly lora_dropout: number;
  readonly bias: 'none';
  readonly fan_in_fan_out: boolean;
  readonly inference_mode: boolean;
  readonly use_rslora: boolean;
  /** Recur's own field: sha256 of the base's weights the adapter was trained on (absent in other tools' adapters). */
  readonly recur_base_fingerprint?: string;
}

export interface PeftAdapter {
  readonly config: PeftAdapterConfig;
  /** adapter_model.safetensors: `base_model.model.<module path>.lora_A.weight` [r, in] / `lora_B.weight` [out, r]. */
  readonly tensors: Map<string, ArrayTensor>;
}

const peftKey = (layer: number, module: string, factor: 'A' | 'B') =>
  `base_model.model.model.layers.${layer}.${module}.lora_${factor}.weight`;
const modulePath = (layer: number, module: string) => `model.layers.${layer}.${module}`;

/**
 * Depth-wise LoRA as a standard PEFT adapter. PEFT has no notion of loops, so the adapter targets
 * the *unrolled* recursive model (graph's `unrollRecursive`, without LoRA): step i of the loop
 * becomes layer i and gets that step's own factors. Each module's rank and alpha go in
 * rank_pattern / alpha_pattern (alpha = scale · r, since PEFT scales B·A by alpha / r).
 * Per-loop norms are not LoRA; export a merged model to keep them.
 */
export function toPeftAdapter(lora: DepthwiseLora, steps: readonly LayerCall[], baseModel: string): PeftAdapter {
  const tensors = new Map<string, ArrayTensor>();
  const rankPattern: Record<string, number> = {};
  const targets = new Set<string>();
  for (const call of steps) {
    for (const module of adaptedModules) {
      const a = lora.tensors.get(loraKey(call.unique, module, call.loop, 'A'));
      const b = lora.tensors.get(loraKey(call.unique, module, call.loop, 'B'));
      if (!a || !b) continue;
      tensors.set(peftKey(call.step, module, 'A'), { data: a.dataSync() as Float32Array, shape: a.shape });
      tensors.set(peftKey(call.step, module, 'B'), { data: b.dataSync() as Float32Array, shape: b.shape });
      rankPattern[modulePath(call.step, module)] = a.shape[0]!;
      targets.add(module.split('.').pop()!);
    }
  }
  const ranks = Object.values(rankPattern);
  const r = ranks.length > 0 ? mostCommon(ranks) : 0;
  const alphaPattern = Object.fromEntries(Object.entries(rankPattern).map(([path, rank]) => [path, lora.scale * rank]));
  return {
    config: {
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: baseModel,
      r,
      lora_alpha: lora.scale * r,
      target_modules: [...targets].sort(),
      rank_pattern: rankPattern,
      alpha_pattern: alphaPattern,
      lora_dropout: 0,
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      use_rslora: false,
    },
    tensors,
  };
}

/**
 * Reads a PEFT LoRA adapter back as a DepthwiseLora. PEFT layer i is executed step i: over a plain
 * decoder (no `steps`) that is stored layer i at loop 0; over a recursive one, `steps[i]`'s stored
 * layer and loop — the unrolled view `toPeftAdapter` writes, so an adapter trained on a recursive
 * model gives each loop its own delta. Every module's alpha / r must be the same, since
 * DepthwiseLora has one scale.
 */
export function fromPeftAdapter(adapter: PeftAdapter, steps?: readonly LayerCall[]): DepthwiseLora {
  const arrays = new Map<string, ArrayTensor>();
  const scales = new Set<number>();
  const pattern = /^base_model\.model\.model\.layers\.(\d+)\.(.+)\.lora_([AB])\.weight$/;
  for (const [key, tensor] of adapter.tensors) {
    const match = pattern.exec(key);
    const module = adaptedModules.find((m) => m === match?.[2]);
    if (!match || !module) throw new LoraError(`adapter tensor "${key}" is not a LoRA factor of a Llama projection`);
    const layer = Number(match[1]);
    const step = steps ? steps[layer] : { unique: layer, loop: 0 };
    if (!step) throw new LoraError(`adapter tensor "${key}" adapts step ${layer} but the model runs ${steps!.length}`);
    arrays.set(loraKey(step.unique, module, step.loop, match[3] as 'A' | 'B'), tensor);
    if (match[3] === 'A') scales.add(peftScale(adapter.config, modulePath(layer, module), tensor.shape[0]!));
  }
  if (scales.size > 1)
    throw new LoraError(`adapter modules use different alpha / r (${[...scales].join(', ')}); one scale is supported`);
  return DepthwiseLora.fromArrays(arrays, [...scales][0] ?? 1);
}

/** alpha / r for one module, honouring rank_pattern / alpha_pattern keys that end the module path. */
function peftScale(config: PeftAdapterConfig, path: string, rank: number): number {
  if (config.use_rslora) throw new LoraError('rsLoRA adapters (alpha / √r scaling) are not supported');
  const matchKey = (pattern: Record<string, number> | undefined) =>
    Object.entries(pattern ?? {}).find(([key]) => path === key || path.endsWith(`.${key}`))?.[1];
  const alpha = matchKey(config.alpha_pattern) ?? config.lora_alpha;
  return alpha / rank;
}

function mostCommon(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((x, y) => y[1] - x[1] || y[0] - x[0])[0]![0];
}
