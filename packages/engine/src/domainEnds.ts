import { layerWeightSpecs, loopStructure, type DecoderConfig } from '@recur/graph';
import { tf } from '@recur/tensor';
import type { LoadedModel } from './model.js';
import type { DomainEndsSection, RecurSection } from './recurConfig.js';

/**
 * Uni-X-style per-domain ends ("Uni-X: Mitigating Modality Conflict with a Two-End-Separated
 * Architecture for Unified Multimodal Models", Hao et al. 2025, arXiv 2509.24365): gradient conflicts
 * between domains concentrate in the first and last layers, so each domain gets its own copy of
 * MIDDLE-CYCLE's unshared prologue and epilogue around the one shared middle block.
 */

/** The loaded model's domain: which ends it runs, and every domain's ends as saved (by storage key). */
export interface DomainState {
  readonly section: DomainEndsSection;
  readonly active: string;
  /** `domains.<name>.<key>` → values, for every domain (the active one's as loaded; save rewrites it). */
  readonly stored: ReadonlyMap<string, Float32Array>;
}

export class DomainError extends Error {
  override readonly name = 'DomainError';
}

export const domainPrefix = 'domains.';

/** Where domain `name`'s copy of weight `key` is stored. */
export function domainKey(name: string, key: string): string {
  return `${domainPrefix}${name}.${key}`;
}

const namePattern = /^[A-Za-z0-9_-]{1,32}$/;

/** `per-domain:a,b` → ['a', 'b'] (at least two distinct names of letters, digits, _ or -). */
export function parseEnds(value: string): string[] {
  const match = /^per-domain:(.+)$/.exec(value);
  if (!match) throw new DomainError(`--ends must be per-domain:NAME,NAME…, got "${value}"`);
  const names = match[1]!.split(',').map((s) => s.trim());
  const bad = names.find((n) => !namePattern.test(n));
  if (bad !== undefined) throw new DomainError(`--ends: domain name "${bad}" must be 1–32 letters, digits, _ or -`);
  if (new Set(names).size !== names.length || names.length < 2)
    throw new DomainError(`--ends needs at least two distinct domain names, got "${match[1]}"`);
  return names;
}

/** The stored layers of the prologue and epilogue (refused when the model has none: only MIDDLE-* models do). */
export function endLayers(config: Pick<DecoderConfig, 'numLayers' | 'layerOrder'>): number[] {
  const structure = loopStructure(config);
  const layers = [...new Set([...structure.prologue, ...structure.epilogue].map((s) => s.unique))];
  if (layers.length === 0)
    throw new DomainError('per-domain ends need unshared first and last layers: convert with --strategy middle-cycle');
  return layers;
}

/** The weight keys that are per domain. */
export function endKeys(config: DecoderConfig, section: Pick<DomainEndsSection, 'layers'>): string[] {
  return section.layers.flatMap((layer) => layerWeightSpecs(config, layer).map((spec) => spec.name));
}

/** `model` with per-domain ends `names`, each an identical copy of its current ends (the first is active). */
export async function withDomainEnds(model: LoadedModel, names: readonly string[]): Promise<LoadedModel> {
  if (!model.recur)
    throw new DomainError(`${model.source.path}: per-domain ends need a converted (middle-cycle) model`);
  if (model.recur.ends) throw new DomainError(`${model.source.path}: already has per-domain ends`);
  const section: DomainEndsSection = {
    domains: [...names],
    layers: endLayers(model.decoder.config),
    active: names[0]!,
  };
  const stored = new Map<string, Float32Array>();
  for (const key of endKeys(model.decoder.config, section)) {
    const data = (await model.decoder.weights.get(key)!.data()) as Float32Array;
    for (const name of names) stored.set(domainKey(name, key), data.slice());
  }
  const recur: RecurSection = { ...model.recur, ends: section };
  return { ...model, recur, domain: { section, active: section.active, stored } };
}

/**
 * Puts domain `name`'s ends into `weights` (replacing and freeing the tensors there) and returns the
 * model's domain state. `read` gives a stored tensor's values by key.
 */
export async function activateDomain(
  config: DecoderConfig,
  section: DomainEndsSection,
  name: string | undefined,
  weights: Map<string, tf.Tensor>,
  read: (key: string) => Promise<Float32Array>,
): Promise<DomainState> {
  const active = name ?? section.active;
  if (!section.domains.includes(active))
    throw new DomainError(`--domain ${active}: the model's domains are ${section.domains.join(', ')}`);
  const stored = new Map<string, Float32Array>();
  for (const key of endKeys(config, section))
    for (const domain of section.domains) stored.set(domainKey(domain, key), await read(domainKey(domain, key)));
  if (active !== section.active)
    for (const key of endKeys(config, section)) {
      const old = weights.get(key)!;
      weights.set(key, tf.tensor(stored.get(domainKey(active, key))!, old.shape, 'float32'));
      old.dispose();
    }
  return { section, active, stored };
}

/** The tensors a saved model adds for its domains: the active one's ends as the model now holds them, the others as loaded. */
export async function domainEntries(
  model: LoadedModel,
): Promise<{ name: string; shape: number[]; data: Float32Array }[]> {
  const domain = model.domain;
  if (!domain) return [];
  const entries: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const key of endKeys(model.decoder.config, domain.section)) {
    const tensor = model.decoder.weights.get(key)!;
    for (const name of domain.section.domains) {
      const storage = domainKey(name, key);
      const data = name === domain.active ? ((await tensor.data()) as Float32Array) : domain.stored.get(storage)!;
      entries.push({ name: storage, shape: tensor.shape, data });
    }
  }
  return entries;
}

/** The recur section a model with domains is saved with: its active domain is what the plain keys now hold. */
export function savedEnds(model: LoadedModel): RecurSection | undefined {
  if (!model.recur || !model.domain) return model.recur;
  return { ...model.recur, ends: { ...model.domain.section, active: model.domain.active } };
}
