import { ConfigError } from '../errors.js';

/** Projections a config.json may declare stored as shared matrix atoms (MASA) instead of once per layer. */
const shareable = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj'];

/**
 * The modules config.json's `masa.modules` says are stored as shared atoms (`masa.*` tensors) rather
 * than per layer, so their `model.layers.N.<module>.weight` tensors are not expected in the file.
 * Which tensors replace them (and their shapes) is checked by whoever builds the model.
 */
export function atomSharedModules(json: unknown, file: string): readonly string[] {
  if (typeof json !== 'object' || json === null) return [];
  const masa = (json as Record<string, unknown>).masa;
  if (masa === undefined) return [];
  const modules = typeof masa === 'object' && masa !== null ? (masa as Record<string, unknown>).modules : undefined;
  if (!Array.isArray(modules) || modules.length === 0 || !modules.every((m) => shareable.includes(m as string)))
    throw new ConfigError(
      file,
      'masa.modules',
      `must list some of ${shareable.join(', ')}, got ${JSON.stringify(modules)}`,
    );
  return modules as string[];
}
