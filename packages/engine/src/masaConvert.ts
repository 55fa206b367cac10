import { Decoder } from '@recur/graph';
import { MasaDictionary, masaFromPretrained, type MasaEnergy, type MasaModule } from '@recur/sharing';
import { weightArrays } from './convert.js';
import { masaStoredParameters, type MasaModel } from './masa.js';
import type { LoadedModel } from './model.js';

export interface MasaConvertOptions {
  /** S: atoms per projection type, 1 ≤ S ≤ the model's layers (S = layers is lossless). */
  readonly atoms: number;
  readonly modules: readonly MasaModule[];
}

export interface MasaConvertedModel extends LoadedModel {
  readonly masa: MasaModel;
  /** Per shared module, the share of its stacked matrices' energy the S atoms keep. */
  readonly energy: readonly MasaEnergy[];
  /** Unique parameters: the source's, and what the MASA model stores (atoms and coefficients in place of the matrices). */
  readonly parameters: { readonly source: number; readonly stored: number };
}

/**
 * A plain model with its attention projections shared across layers as MASA matrix atoms (Share
 * Your Attention: Transformer Weight Sharing via Matrix-based Dictionary Learning, 2025): atoms
 * from a truncated SVD of each projection type's stacked layer matrices, coefficients their
 * projections (see `masaFromPretrained`). The decoder runs the materialised W_l.
 *
 * Plain models only: a recursive model's block is already shared across its loops, and its
 * depth-wise LoRA is fitted to the block's own matrices, so atoms over the block are refused
 * rather than half-supported; a MASA model is not converted again either.
 */
export async function convertMasa(model: LoadedModel, options: MasaConvertOptions): Promise<MasaConvertedModel> {
  if (model.recur || model.masa || model.lora)
    throw new RangeError(
      `${model.source.path}: --sharing masa converts a plain model; this one is already ${model.masa ? 'MASA-shared' : model.recur ? 'recursive (looped)' : 'adapted (LoRA)'}`,
    );
  const config = model.decoder.config;
  const source = await weightArrays(model.decoder);
  const init = masaFromPretrained({ config, source, atoms: options.atoms, modules: options.modules });
  const dictionary = MasaDictionary.fromArrays(init.arrays);
  const decoder = Decoder.fromArrays(config, new Map([...source, ...dictionary.materialise()]));
  const section = {
    atoms: options.atoms,
    modules: [...options.modules],
    centred: false as const,
    source: { path: model.source.path, numLayers: config.numLayers, parameters: model.decoder.parameterCount },
  };
  const masa = { section, dictionary };
  return {
    ...model,
    decoder,
    masa,
    energy: init.energy,
    parameters: { source: model.decoder.parameterCount, stored: masaStoredParameters(decoder.parameterCount, masa) },
  };
}
