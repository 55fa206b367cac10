import { Decoder } from '@recur/graph';
import { GatedFusion, scaledLora, stackAdapters, type CompositionSpec, type DepthwiseLora } from '@recur/lora';
import type { tf } from '@recur/tensor';
import { withAdapters } from '../../adapters.js';
import type { LoadedModel } from '../../model.js';
import type { LoadedPart } from './parts.js';

/**
 * The model with a composition of its parts plugged in. ScaLearn folds into one LoRA (scaledLora, exact)
 * that adds to the model's own like any extra adapter, so the fast path, merge and PEFT export run it;
 * gated fusion stays a GatedFusion on the tfjs decoder (`model.composition.fusion`: the fast path and
 * exports refuse it). Takes ownership of `model`, the parts and the coefficients.
 */
export function withComposition(
  model: LoadedModel,
  composition: {
    readonly dir: string;
    readonly spec: CompositionSpec;
    readonly parts: readonly LoadedPart[];
    readonly coefficients: ReadonlyMap<string, tf.Tensor>;
  },
): LoadedModel {
  const { dir, spec, coefficients } = composition;
  const parts = composition.parts.map((p) => p.lora);
  if (spec.method === 'gated') {
    const fusion = new GatedFusion(parts, coefficients, spec, true);
    const adapter = model.lora ? stackAdapters([model.lora, fusion]) : fusion;
    const decoder = new Decoder(model.decoder.config, model.decoder.weights, { adapter });
    return { ...model, decoder, composition: { dir, method: spec.method, fusion } };
  }
  const folded = foldAndFree(parts, coefficients, spec);
  return { ...withAdapters(model, [folded]), composition: { dir, method: spec.method } };
}

/** scaledLora, freeing the parts and coefficients whatever happens (the folded LoRA holds copies). */
export function foldAndFree(
  parts: readonly DepthwiseLora[],
  coefficients: ReadonlyMap<string, tf.Tensor>,
  spec: CompositionSpec,
): DepthwiseLora {
  try {
    return scaledLora(parts, coefficients, spec);
  } finally {
    for (const part of parts) part.dispose();
    for (const t of coefficients.values()) t.dispose();
  }
}
