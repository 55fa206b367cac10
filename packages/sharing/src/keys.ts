import { layerKey, type AdaptedModule } from '@recur/graph';

/** The attention projections MASA may share, by their short CLI names (issue 17 §1: q, k, v, o). */
export const masaModuleNames = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
} as const;
export type MasaModuleName = keyof typeof masaModuleNames;
export type MasaModule = (typeof masaModuleNames)[MasaModuleName] & AdaptedModule;
export const masaModules: readonly MasaModule[] = Object.values(masaModuleNames);

/** Shared atoms of one projection type: [S, out, in]. */
export const atomsKey = (module: MasaModule): string => `masa.${module}.atoms`;
/** Per-layer coefficients of one projection type: [L, S]. */
export const coefficientsKey = (module: MasaModule): string => `masa.${module}.coefficients`;
/** The decoder weight layer `layer`'s matrix of `module` stands in for. */
export const derivedKey = (layer: number, module: MasaModule): string => layerKey(layer, `${module}.weight`);

/** Every MASA tensor key starts with this (never a decoder or adapter key). */
export const masaTensorPrefix = 'masa.';

/** "q,k,v,o" or "all" → the modules, in q, k, v, o order; throws RangeError naming the bad entry. */
export function parseMasaModules(text: string): MasaModule[] {
  if (text.trim() === 'all') return [...masaModules];
  const names = text.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(name in masaModuleNames))
      throw new RangeError(`--masa-modules: "${name}" is not one of q, k, v, o (or "all")`);
  }
  if (new Set(names).size !== names.length) throw new RangeError(`--masa-modules: "${text}" names a module twice`);
  return masaModules.filter((m) => names.some((n) => masaModuleNames[n as MasaModuleName] === m));
}
