import { executionSteps, type DecoderConfig, type LayerCall } from '@recur/graph';
import { LoraError } from '../init.js';

/**
 * How DVPT modules are shared over a model's executed steps: `layers` one module for every step,
 * `loops` one per stored layer (block position) reused at every loop, `none` one per step.
 */
export const dvptShares = ['layers', 'loops', 'none'] as const;
export type DvptShare = (typeof dvptShares)[number];

/** The shape of a model's DVPT modules. */
export interface DvptShape {
  /** Learnable prompt vectors per module (P). */
  readonly prompts: number;
  /** Bottleneck width b: tokens are projected d → b, attended in b, projected back b → d. */
  readonly bottleneck: number;
  readonly share: DvptShare;
}

/** Which module a step uses under `share`. */
export function dvptModuleIndex(share: DvptShare, call: LayerCall): number {
  return share === 'layers' ? 0 : share === 'loops' ? call.unique : call.step;
}

/** How many modules a model has under `share`. */
export function dvptModuleCount(share: DvptShare, config: DecoderConfig): number {
  return share === 'layers' ? 1 : share === 'loops' ? config.numLayers : executionSteps(config).length;
}

export type DvptPart = 'down_proj.weight' | 'up_proj.weight' | 'prompts';

/** Tensor name of one part of module m: down [b, d], up [d, b], prompts [P, b]. */
export const dvptKey = (module: number, part: DvptPart): string => `dvpt.${module}.${part}`;

/** The shape of each part of a module for a model of width d. */
export function dvptPartShape(shape: DvptShape, hiddenSize: number, part: DvptPart): [number, number] {
  if (part === 'down_proj.weight') return [shape.bottleneck, hiddenSize];
  if (part === 'up_proj.weight') return [hiddenSize, shape.bottleneck];
  return [shape.prompts, shape.bottleneck];
}

export const dvptParts: readonly DvptPart[] = ['down_proj.weight', 'up_proj.weight', 'prompts'];

/** Refuses a shape that cannot run (whole positive counts, a known share). */
export function checkDvptShape(shape: DvptShape): void {
  for (const [name, value] of [
    ['prompts', shape.prompts],
    ['bottleneck', shape.bottleneck],
  ] as const)
    if (!Number.isInteger(value) || value < 1)
      throw new LoraError(`DVPT ${name} must be a whole number ≥ 1, got ${value}`);
  if (!dvptShares.includes(shape.share))
    throw new LoraError(`DVPT share must be one of ${dvptShares.join(', ')}, got "${shape.share}"`);
}
