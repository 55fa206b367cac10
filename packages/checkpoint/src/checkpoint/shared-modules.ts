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

/** A q/k tensor of one layer: what EchoAtt leaves out of a layer that only reuses another step's maps. */
const echoDroppable = /^model\.layers\.\d+\.self_attn\.[qk]_proj\.(weight|bias)$/;

/**
 * Tensors config.json's `echo.dropped` says are not stored (EchoAtt, arXiv 2409.14595: layers that reuse
 * another step's attention maps need no q/k), so they are not expected in the file. Only q/k tensors.
 */
export function echoDroppedTensors(json: unknown, file: string): readonly string[] {
  if (typeof json !== 'object' || json === null) return [];
  const echo = (json as Record<string, unknown>).echo;
  if (echo === undefined) return [];
  const dropped = typeof echo === 'object' && echo !== null ? (echo as Record<string, unknown>).dropped : undefined;
  if (dropped === undefined) return [];
  if (!Array.isArray(dropped) || !dropped.every((name) => typeof name === 'string' && echoDroppable.test(name)))
    throw new ConfigError(file, 'echo.dropped', `must list q/k tensor names, got ${JSON.stringify(dropped)}`);
  return dropped as string[];
}
