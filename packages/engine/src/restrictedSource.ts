import { Decoder, layerKey } from '@recur/graph';
import { weightArrays } from './convert.js';
import type { LoadedModel } from './model.js';

const LAYER_KEY = /^model\.layers\.(\d+)\.(.+)$/;

/**
 * A plain model that runs only `layers` of `source`, in that order (repeats allowed), each with its
 * own weights and norms — what a conversion stands for: with full-rank SVD LoRA and per-loop norms, a
 * recursive model whose executed steps map to source layers [0, 1, 3, 4] computes exactly
 * `sourceRestrictedTo(source, [0, 1, 3, 4])`, not the whole source. The copy owns its weights.
 */
export async function sourceRestrictedTo(source: LoadedModel, layers: readonly number[]): Promise<LoadedModel> {
  const total = source.decoder.config.numLayers;
  const bad = layers.find((l) => !Number.isInteger(l) || l < 0 || l >= total);
  if (layers.length === 0 || bad !== undefined)
    throw new RangeError(`layers [${layers.join(', ')}]: need one or more source layers in 0..${total - 1}`);
  if (source.recur || source.masa) throw new RangeError(`${source.source.path}: restrict a plain source model`);
  const arrays = await weightArrays(source.decoder);
  const out = new Map<string, Float32Array>();
  for (const [key, value] of arrays) if (!LAYER_KEY.test(key)) out.set(key, value);
  layers.forEach((from, to) => {
    for (const [key, value] of arrays) {
      const match = LAYER_KEY.exec(key);
      if (match && Number(match[1]) === from) out.set(layerKey(to, match[2]!), value);
    }
  });
  const config = { ...source.decoder.config, numLayers: layers.length };
  return {
    ...source,
    config: { ...source.config, numLayers: layers.length },
    decoder: Decoder.fromArrays(config, out),
  };
}
