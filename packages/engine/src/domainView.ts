import { Decoder } from '@recur/graph';
import { tf } from '@recur/tensor';
import { DomainError, domainKey, endKeys } from './domainEnds.js';
import type { LoadedModel } from './model.js';

/** A model that runs another domain's ends; `dispose` frees only the end tensors the view made. */
export interface DomainView {
  readonly model: LoadedModel;
  dispose(): void;
}

/**
 * `model` running domain `name`'s ends (Uni-X per-domain ends, arXiv 2509.24365): every weight but
 * the prologue's and epilogue's is the model's own tensor, shared and not copied, so a second domain
 * costs its ends only. The active domain is the model itself. The view lives no longer than `model`.
 */
export function domainView(model: LoadedModel, name: string): DomainView {
  const domain = model.domain;
  if (!domain)
    throw new DomainError(
      `${model.source.path}: domain ${name}: the model has no per-domain ends (convert with --ends per-domain:NAMES)`,
    );
  if (!domain.section.domains.includes(name))
    throw new DomainError(`domain ${name}: the model's domains are ${domain.section.domains.join(', ')}`);
  if (name === domain.active) return { model, dispose: () => {} };
  if (model.masa || model.dvpt || model.composition?.fusion)
    throw new DomainError(
      `${model.source.path}: a domain view of a MASA, DVPT or gated-composition model is not supported`,
    );
  const config = model.decoder.config;
  const weights = new Map(model.decoder.weights);
  const made: tf.Tensor[] = [];
  for (const key of endKeys(config, domain.section)) {
    const shape = weights.get(key)!.shape;
    const own = tf.tensor(domain.stored.get(domainKey(name, key))!, shape, 'float32');
    weights.set(key, own);
    made.push(own);
  }
  const decoder = new Decoder(config, weights, model.lora ? { adapter: model.lora } : {});
  return {
    model: { ...model, decoder, domain: { ...domain, active: name } },
    dispose: () => {
      for (const t of made) t.dispose();
    },
  };
}
