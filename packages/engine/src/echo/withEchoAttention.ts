import { Decoder, decoderWeightSpecs, type EchoReuse } from '@recur/graph';
import type { LoadedModel } from '../model.js';

/** config.json's `echo` section: which executed steps reuse which step's attention maps (EchoAtt). */
export interface EchoSection {
  readonly reuse: readonly EchoReuse[];
  /** How the plan was chosen: `auto` at a similarity threshold, or a given list. */
  readonly rule?: string;
}

/**
 * The model with EchoAtt's plan applied ("EchoAtt", 2024, arXiv 2409.14595): a new decoder over the same
 * weight tensors whose reusing steps skip q/k and the softmax; the q/k weights of stored layers that only
 * reuse maps are freed. The returned model owns the weights: dispose it, not `model`. Recovery of what
 * the reuse changes is `recur train --distill` from the source.
 */
export function withEchoAttention(model: LoadedModel, reuse: readonly EchoReuse[]): LoadedModel {
  if (model.masa) throw new RangeError('EchoAtt: a MASA model cannot be echo-converted (convert its source instead)');
  return { ...model, decoder: echoDecoder(model.decoder, reuse, model.lora ? { adapter: model.lora } : {}) };
}

/**
 * `decoder` with EchoAtt's plan: a new Decoder over the same weight tensors (the q/k of stored layers that
 * only reuse maps are freed). The returned decoder owns the weights: dispose it, not `decoder`.
 */
export function echoDecoder(
  decoder: Decoder,
  reuse: readonly EchoReuse[],
  options: ConstructorParameters<typeof Decoder>[2] = {},
): Decoder {
  if (decoder.config.echoAttention?.length)
    throw new RangeError('EchoAtt: the model already reuses attention maps; convert its source instead');
  const config = { ...decoder.config, echoAttention: reuse.map((r) => ({ step: r.step, source: r.source })) };
  const keep = new Set(decoderWeightSpecs(config).map((spec) => spec.name)); // validates the plan too
  const echo = new Decoder(config, new Map([...decoder.weights].filter(([name]) => keep.has(name))), options);
  for (const [name, tensor] of decoder.weights) if (!keep.has(name)) tensor.dispose();
  return echo;
}
