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
  const layout = unrolledLayout(config, [...arrays.keys()]);
  const out = new Map<string, Float32Array>();
  for (const [key, { from }] of layout.tensors) out.set(key, arrays.get(from)!);
  return { config: layout.config, arrays: out, steps: layout.steps };
}

/** Where each tensor of the unrolled model comes from: a stored key and, for layer tensors, the step it became. */
export interface UnrolledLayout {
  readonly config: DecoderConfig;
  /** Unrolled keys in file order (non-layer tensors first, then step by step), each with its stored key. */
  readonly tensors: ReadonlyMap<string, { readonly from: string; readonly call?: LayerCall; readonly module?: string }>;
  readonly steps: readonly LayerCall[];
}

/** `unrollRecursive` without the data: which stored tensor each unrolled one is (a streaming export makes them one at a time). */
export function unrolledLayout(config: DecoderConfig, keys: readonly string[]): UnrolledLayout {
  const steps = executionSteps(config);
  const layerPrefix = /^model\.layers\.(\d+)\.(.+)$/;
  const tensors = new Map<string, { from: string; call?: LayerCall; module?: string }>();
  const perLayer = new Map<number, string[]>();
  for (const key of keys) {
    const match = layerPrefix.exec(key);
    if (!match) {
      tensors.set(key, { from: key });
      continue;
    }
    const unique = Number(match[1]);
    perLayer.set(unique, [...(perLayer.get(unique) ?? []), match[2]!]);
  }
  for (const call of steps) {
    for (const module of perLayer.get(call.unique) ?? [])
      tensors.set(layerKey(call.step, module), { from: layerKey(call.unique, module), call, module });
  }
  const { layerOrder: _order, ...plain } = config;
  return { config: { ...plain, numLayers: steps.length }, tensors, steps };
}
