import { CheckpointError } from '../errors.js';
import { baseName } from '../bytes/source.js';

/** Which of the given files make up the checkpoint (names as given, matched by base name). */
export type CheckpointFiles =
  | { readonly format: 'gguf'; readonly model: string }
  | {
      readonly format: 'safetensors';
      readonly config: string;
      /** Set for a sharded checkpoint; `weights` then holds every candidate shard. */
      readonly index?: string;
      readonly weights: readonly string[];
      readonly tokenizer?: string;
      readonly tokenizerConfig?: string;
    };

/**
 * Recognises a checkpoint among file names: a Hugging Face layout (config.json beside
 * model.safetensors or a *.safetensors.index.json with its shards) wins over a .gguf, since it
 * is the fuller description; several candidates of one kind are refused rather than guessed.
 */
export function selectCheckpointFiles(names: readonly string[], where: string): CheckpointFiles {
  const find = (base: string): string | undefined => names.find((n) => baseName(n) === base);
  const withSuffix = (suffix: string): string[] => names.filter((n) => baseName(n).endsWith(suffix));
  const indexes = withSuffix('.safetensors.index.json');
  const safetensors = withSuffix('.safetensors');
  const ggufs = withSuffix('.gguf');
  if (indexes.length > 0 || safetensors.length > 0) {
    const config = find('config.json');
    if (!config)
      throw new CheckpointError('no-config', where, 'safetensors weights need a config.json beside them (none found)');
    const tokenizer = find('tokenizer.json');
    const tokenizerConfig = find('tokenizer_config.json');
    const index = indexes.length > 0 ? pickOne(indexes, 'model.safetensors.index.json', where) : undefined;
    const weights = index ? safetensors : [pickOne(safetensors, 'model.safetensors', where)];
    return {
      format: 'safetensors',
      config,
      weights,
      ...(index ? { index } : {}),
      ...(tokenizer ? { tokenizer } : {}),
      ...(tokenizerConfig ? { tokenizerConfig } : {}),
    };
  }
  if (ggufs.length > 0) return { format: 'gguf', model: pickOne(ggufs, undefined, where) };
  throw new CheckpointError(
    'no-model',
    where,
    'no model found (expected config.json with model.safetensors or model.safetensors.index.json, or a .gguf file)',
  );
}

function pickOne(candidates: readonly string[], preferred: string | undefined, where: string): string {
  if (candidates.length === 1) return candidates[0]!;
  const chosen = preferred === undefined ? undefined : candidates.find((n) => baseName(n) === preferred);
  if (chosen) return chosen;
  throw new CheckpointError(
    'ambiguous-model',
    where,
    `several candidate model files (${candidates.map(baseName).join(', ')}); open one of them directly`,
  );
}
