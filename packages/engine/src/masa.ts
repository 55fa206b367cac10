import { ConfigError, type Checkpoint, type ModelConfig } from '@recur/checkpoint';
import {
  atomsKey,
  coefficientsKey,
  derivedKey,
  MasaDictionary,
  masaTensorPrefix,
  moduleShape,
  type MasaModule,
} from '@recur/sharing';

/**
 * The `masa` section of a MASA model's config.json (Share Your Attention: Transformer Weight Sharing
 * via Matrix-based Dictionary Learning, 2025): which attention projections are combinations of S
 * shared atoms. Their per-layer weights are not stored; `masa.<module>.atoms` [S, out, in] and
 * `masa.<module>.coefficients` [L, S] are.
 */
export interface MasaSection {
  /** S, atoms per projection type. */
  readonly atoms: number;
  readonly modules: readonly MasaModule[];
  /** The atoms are a plain (uncentred) truncated SVD of the stacked layer matrices: no mean term. */
  readonly centred: false;
  /** Where the model was converted from, and its size. */
  readonly source: { readonly path: string; readonly numLayers: number; readonly parameters: number };
}

/** A model's atoms and coefficients with the section that describes them. */
export interface MasaModel {
  readonly section: MasaSection;
  readonly dictionary: MasaDictionary;
}

/** The decoder keys MASA replaces: each shared module's weight at every layer. */
export function masaDerivedKeys(config: ModelConfig, section: MasaSection): Set<string> {
  const keys = new Set<string>();
  for (const module of section.modules) for (let l = 0; l < config.numLayers; l++) keys.add(derivedKey(l, module));
  return keys;
}

/** Checks the atom and coefficient tensors against the config and section (ConfigError naming the file). */
export function checkMasaTensors(checkpoint: Checkpoint, config: ModelConfig, section: MasaSection): void {
  const file = checkpoint.path;
  const { atoms } = section;
  if (!Number.isInteger(atoms) || atoms < 1 || atoms > config.numLayers)
    throw new ConfigError(
      file,
      'masa.atoms',
      `must be an integer in 1..${config.numLayers}, got ${JSON.stringify(atoms)}`,
    );
  const shapes = new Map(checkpoint.tensors.map((t) => [t.name, t.shape.join(',')]));
  for (const module of section.modules) {
    const expected: [string, number[]][] = [
      [atomsKey(module), [atoms, ...moduleShape(config, module)]],
      [coefficientsKey(module), [config.numLayers, atoms]],
    ];
    for (const [key, shape] of expected)
      if (shapes.get(key) !== shape.join(','))
        throw new ConfigError(
          file,
          'masa',
          `needs tensor ${key} of shape [${shape.join(', ')}], found ${shapes.has(key) ? `[${shapes.get(key)?.replaceAll(',', ', ')}]` : 'none'}`,
        );
  }
}

/** The MASA tensors of a checkpoint (read into `arrays`) as a dictionary; its W_l are added to `arrays`. */
export function loadMasa(checkpoint: Checkpoint, arrays: Map<string, Float32Array>, section: MasaSection): MasaModel {
  const own = checkpoint.tensors.filter((t) => t.name.startsWith(masaTensorPrefix));
  const dictionary = MasaDictionary.fromArrays(
    new Map(own.map((info) => [info.name, { data: arrays.get(info.name)!, shape: info.shape }])),
  );
  for (const [key, data] of dictionary.materialise()) {
    if (!data.every(Number.isFinite)) {
      dictionary.dispose();
      throw new ConfigError(checkpoint.path, 'masa', `atoms × coefficients give non-finite values in ${key}`);
    }
    arrays.set(key, data);
  }
  for (const info of own) arrays.delete(info.name);
  return { section, dictionary };
}

/** Parameters a MASA model stores: the decoder's, less the per-layer matrices atoms replace, plus atoms and coefficients. */
export function masaStoredParameters(decoderParameters: number, masa: MasaModel): number {
  return decoderParameters - masa.dictionary.replacedCount + masa.dictionary.parameterCount;
}
