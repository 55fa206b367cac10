import { executionSteps, type DecoderConfig } from '../config.js';
import { layerKey } from '../weights.js';
import type { LayerCall } from '../layer.js';

export interface UnrolledDecoder {
  /** A plain decoder config: one stored layer per executed step, no layerOrder. */
  readonly config: DecoderConfig;
  /** Weights by checkpoint key; step i's layer holds the arrays of the stored layer it ran (shared, not copied). */
  readonly arrays: Map<string, Float32Array>;
  /** What ran at each step of the recursive model (step i became layer i). */
  readonly steps: readonly LayerCall[];
}

/**
 * Lays a recursive (layer-shared) model out as a plain decoder with one layer per executed step,
 * so tools that know nothing of tying can run it. Identical outputs; the file grows by the tying.
 */
export function unrollRecursive(config: DecoderConfig, arrays: ReadonlyMap<string, Float32Array>): UnrolledDecoder {
  const steps = executionSteps(config);
  const layerPrefix = /^model\.layers\.(\d+)\.(.+)$/;
  const out = new Map<string, Float32Array>();
  const perLayer = new Map<number, [string, Float32Array][]>();
  for (const [key, data] of arrays) {
    const match = layerPrefix.exec(key);
    if (!match) {
      out.set(key, data);
      continue;
    }
    const unique = Number(match[1]);
    perLayer.set(unique, [...(perLayer.get(unique) ?? []), [match[2]!, data]]);
  }
  for (const step of steps) {
    for (const [module, data] of perLayer.get(step.unique) ?? []) out.set(layerKey(step.step, module), data);
  }
  const { layerOrder: _order, ...plain } = config;
  return { config: { ...plain, numLayers: steps.length }, arrays: out, steps };
}
