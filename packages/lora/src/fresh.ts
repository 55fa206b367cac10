import { adaptedModules, executionSteps, type AdaptedModule, type DecoderConfig } from '@recur/graph';
import { gaussianArray } from '@recur/tensor';
import { LoraError, type ArrayTensor } from './init.js';
import { loraKey } from './keys.js';

export interface FreshLoraOptions {
  readonly config: DecoderConfig;
  readonly rank: number;
  /** Projections that get a LoRA (default: all seven). */
  readonly modules?: readonly AdaptedModule[];
  readonly seed?: number;
}

/**
 * A new LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", arXiv 2106.09685)
 * for every executed step of any model — one per layer of a plain model, one per (layer, loop) of a
 * recursive one: A Gaussian scaled by 1/√in, B zero, so the adapted model starts equal to its base.
 */
export function freshLora(options: FreshLoraOptions): Map<string, ArrayTensor> {
  const { config, rank } = options;
  const modules = options.modules ?? adaptedModules;
  const out = new Map<string, ArrayTensor>();
  let drawn = 0;
  for (const step of executionSteps(config)) {
    for (const module of modules) {
      const [rows, cols] = projectionShape(config, module);
      if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(rows, cols))
        throw new LoraError(`LoRA rank ${rank} does not fit ${module} [${rows}, ${cols}] (1..${Math.min(rows, cols)})`);
      const seed = (options.seed ?? 0) * 10_007 + drawn++;
      const a = gaussianArray(rank * cols, seed).map((v) => v / Math.sqrt(cols)); // [r, in]
      out.set(loraKey(step.unique, module, step.loop, 'A'), { data: a, shape: [rank, cols] });
      out.set(loraKey(step.unique, module, step.loop, 'B'), {
        data: new Float32Array(rows * rank),
        shape: [rows, rank],
      });
    }
  }
  return out;
}

/** [out, in] of a projection. */
export function projectionShape(config: DecoderConfig, module: AdaptedModule): [number, number] {
  const { hiddenSize: d, intermediateSize: ff, numHeads, numKvHeads, headDim } = config;
  const shapes: Record<AdaptedModule, [number, number]> = {
    'self_attn.q_proj': [numHeads * headDim, d],
    'self_attn.k_proj': [numKvHeads * headDim, d],
    'self_attn.v_proj': [numKvHeads * headDim, d],
    'self_attn.o_proj': [d, numHeads * headDim],
    'mlp.gate_proj': [ff, d],
    'mlp.up_proj': [ff, d],
    'mlp.down_proj': [d, ff],
  };
  return shapes[module];
}
