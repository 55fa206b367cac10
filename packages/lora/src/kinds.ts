import type { AdaptedModule } from '@recur/graph';
import type { tf } from '@recur/tensor';
import { hyperFactors, initHyperLora, isHyperKey } from './hyperLora.js';
import type { ArrayTensor } from './init.js';
import type { Factors, KindInitOptions, ModuleShape } from './kindTypes.js';
import { initScaledLora, isScaledKey, scaledFactors } from './scaledLora.js';

/**
 * The registry of LoRA kinds. 'depthwise' (the default) stores every (position, loop) adapter as it
 * is (DepthwiseLora); the others store fewer parameters and generate those adapters from them
 * (GeneratedLora). A model's kind is recorded in its config.json (`recur.loraKind`).
 */
export const loraKinds = ['depthwise', 'hyper', 'scaled'] as const;
export type LoraKind = (typeof loraKinds)[number];

/** A kind with its settings, as config.json records it. */
export type LoraKindSpec =
  | { readonly kind: 'depthwise' }
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

const generated: Record<Exclude<LoraKind, 'depthwise'>, GeneratedKind> = {
  hyper: { owns: isHyperKey, factors: hyperFactors, init: initHyperLora },
  scaled: { owns: isScaledKey, factors: scaledFactors, init: initScaledLora },
};

/** The generated kind of a spec, or undefined for depth-wise LoRA. */
export function generatedKind(spec: LoraKindSpec | undefined): GeneratedKind | undefined {
  return spec === undefined || spec.kind === 'depthwise' ? undefined : generated[spec.kind];
}

/** Whether a key belongs to any generated kind (what a loader reads beside per-loop tensors). */
export const isGeneratedLoraKey = (name: string): boolean => Object.values(generated).some((k) => k.owns(name));
