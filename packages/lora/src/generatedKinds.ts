import type { AdaptedModule } from '@recur/graph';
import type { tf } from '@recur/tensor';
import { hyperFactors, initHyperLora, isHyperKey } from './hyperLora.js';
import type { ArrayTensor } from './init.js';
import type { Factors, KindInitOptions, ModuleShape } from './kindTypes.js';
import type { LoraKind } from './kinds.js';
import { initScaledLora, isScaledKey, scaledFactors } from './scaledLora.js';

/**
 * The generated LoRA kinds: 'hyper' and 'scaled' store fewer parameters and compute every (position,
 * loop) adapter from them (GeneratedLora), where 'depthwise' and 'mos' hand executors stored factors.
 */

/** config.json's `recur.hyper`: the width H of the loop and position embeddings. */
export interface HyperSection {
  readonly hyperDim: number;
}

/** A kind with its settings, in memory (config.json keeps the kind as a string, settings in their section). */
export type LoraKindSpec =
  | { readonly kind: 'depthwise' }
  | { readonly kind: 'mos' }
  | { readonly kind: 'hyper'; readonly hyperDim: number }
  | { readonly kind: 'scaled' };

/** A kind whose per-step adapters are computed from stored parameters. */
export interface GeneratedKind {
  /** Whether a checkpoint key is one of this kind's stored tensors. */
  owns(name: string): boolean;
  /** One step's A [r, in] and B [out, r] (differentiable in the stored tensors); undefined where it has none. */
  factors(
    tensors: ReadonlyMap<string, tf.Tensor>,
    unique: number,
    module: AdaptedModule,
    loop: number,
  ): Factors | undefined;
  /** The stored tensors a conversion starts from. */
  init(options: KindInitOptions, shapes: readonly ModuleShape[]): Map<string, ArrayTensor>;
}

const generated: Record<'hyper' | 'scaled', GeneratedKind> = {
  hyper: { owns: isHyperKey, factors: hyperFactors, init: initHyperLora },
  scaled: { owns: isScaledKey, factors: scaledFactors, init: initScaledLora },
};

/** The generated kind of a spec, or undefined for depth-wise and MoS LoRA. */
export function generatedKind(spec: LoraKindSpec | undefined): GeneratedKind | undefined {
  return spec?.kind === 'hyper' || spec?.kind === 'scaled' ? generated[spec.kind] : undefined;
}

/** Whether a key belongs to any generated kind (what a loader reads beside per-loop tensors). */
export const isGeneratedLoraKey = (name: string): boolean => Object.values(generated).some((k) => k.owns(name));

/**
 * The spec a recur section (or convert options of the same shape) describes: `loraKind` absent means
 * depthwise; 'hyper' takes its width from the `hyper` section, and throws without one.
 */
export function loraKindSpec(recur: { readonly loraKind?: LoraKind; readonly hyper?: HyperSection }): LoraKindSpec {
  const kind = recur.loraKind ?? 'depthwise';
  if (kind !== 'hyper') return { kind };
  if (recur.hyper === undefined) throw new RangeError('loraKind "hyper" needs a hyper section ({ hyperDim })');
  return { kind, hyperDim: recur.hyper.hyperDim };
}

/** The config.json fields of a spec: the kind as a string plus its settings section where it has one. */
export function loraKindFields(spec: LoraKindSpec): { loraKind: LoraKind; hyper?: HyperSection } {
  return spec.kind === 'hyper' ? { loraKind: 'hyper', hyper: { hyperDim: spec.hyperDim } } : { loraKind: spec.kind };
}
