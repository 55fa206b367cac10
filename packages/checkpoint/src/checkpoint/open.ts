import { CheckpointError } from '../errors.js';
import type { ByteSource } from '../bytes/source.js';
import { configFromGguf } from '../config/from-gguf.js';
import { configFromHf } from '../config/from-hf.js';
import { contextSource } from '../config/context-source.js';
import type { ModelConfig } from '../config/model-config.js';
import { hfToGgufName } from '../gguf/naming.js';
import { readGguf } from '../gguf/reader.js';
import { openSafetensors } from '../safetensors/reader.js';
import { openShardedSafetensors, parseSafetensorsIndex } from '../safetensors/sharded.js';
import type { TensorStore } from '../tensor-info.js';
import { tokenizerFromGguf } from '../tokenizer/from-gguf.js';
import { tokenizerFromHfJson } from '../tokenizer/from-hf.js';
import type { TextTokenizer } from '../tokenizer/text-tokenizer.js';
import type { Checkpoint } from './checkpoint.js';
import { checkTensorsAgainstConfig } from './expected-shapes.js';
import { atomSharedModules, echoDroppedTensors } from './shared-modules.js';
import { checkFinite } from './finite.js';
import { ggufAsHf } from './gguf-view.js';
import { readJsonSource } from './json.js';
import { selectCheckpointFiles, type CheckpointFiles } from './select.js';

export interface OpenCheckpointOptions {
  /** Shown as `Checkpoint.path` and in messages (default: the model file's name). */
  readonly path?: string;
}

interface Parts {
  readonly config: ModelConfig;
  readonly contextSource: string;
  readonly tokenizer: TextTokenizer | null;
  readonly store: TensorStore;
}

/**
 * Opens a checkpoint from a set of files — a browser folder upload, or what `loadCheckpoint`
 * found on disk: a .gguf, or config.json + model.safetensors (or an index and its shards)
 * + optional tokenizer.json / tokenizer_config.json. Takes ownership of the sources: the ones it
 * does not need are closed at once, the rest by `Checkpoint.close()` (or on failure).
 */
export async function openCheckpoint(
  files: readonly ByteSource[],
  options: OpenCheckpointOptions = {},
): Promise<Checkpoint> {
  const where = options.path ?? (files.length === 1 ? files[0]!.name : 'checkpoint');
  const closeAll = (keep: ReadonlySet<ByteSource>): Promise<unknown> =>
    Promise.all(files.filter((f) => !keep.has(f)).map((f) => f.close?.()));
  try {
    const selection = selectCheckpointFiles(
      files.map((f) => f.name),
      where,
    );
    const byName = new Map(files.map((f) => [f.name, f]));
    const source = (name: string): ByteSource => byName.get(name)!;
    const parts =
      selection.format === 'gguf'
        ? await openGgufParts(source(selection.model))
        : await openSafetensorsParts(selection, source);
    await closeAll(new Set(weightNames(selection).map(source)));
    const path = options.path ?? (selection.format === 'gguf' ? selection.model : where);
    return checkpointOf(selection.format, path, parts);
  } catch (error) {
    await closeAll(new Set());
    throw error;
  }
}

function weightNames(selection: CheckpointFiles): readonly string[] {
  return selection.format === 'gguf' ? [selection.model] : selection.weights;
}

async function openGgufParts(source: ByteSource): Promise<Parts> {
  const gguf = await readGguf(source);
  const config = configFromGguf(
    gguf.metadata,
    source.name,
    gguf.tensors.map((t) => t.name),
  );
  const tokenizer = gguf.metadata.has('tokenizer.ggml.tokens') ? tokenizerFromGguf(gguf.metadata, source.name) : null;
  const store = ggufAsHf(gguf, config);
  checkTensorsAgainstConfig(source.name, config, store.tensors, {
    layerField: 'llama.block_count',
    fileName: (name) => hfToGgufName(name) ?? name,
  });
  return {
    config,
    contextSource: contextSource(source.name, 'llama.context_length', gguf.metadata.has('llama.context_length')),
    tokenizer,
    store,
  };
}

async function openSafetensorsParts(
  selection: Extract<CheckpointFiles, { format: 'safetensors' }>,
  source: (name: string) => ByteSource,
): Promise<Parts> {
  const json = await readJsonSource(source(selection.config));
  const config = configFromHf(json, selection.config);
  const declared =
    typeof json === 'object' && json !== null && (json as Record<string, unknown>).max_position_embeddings != null;
  const tokenizer = selection.tokenizer
    ? await readTokenizer(
        source(selection.tokenizer),
        selection.tokenizerConfig ? source(selection.tokenizerConfig) : undefined,
      )
    : null;
  const store = selection.index
    ? await openShardedSafetensors(
        selection.index,
        parseSafetensorsIndex(selection.index, await readJsonSource(source(selection.index))),
        selection.weights.map(source),
      )
    : await openSafetensors(source(selection.weights[0]!));
  // on failure openCheckpoint closes the files
  checkTensorsAgainstConfig(store.file, config, store.tensors, {
    layerField: 'num_hidden_layers',
    atomShared: atomSharedModules(json, selection.config),
    absent: echoDroppedTensors(json, selection.config),
  });
  return {
    config,
    contextSource: contextSource(selection.config, 'max_position_embeddings', declared),
    tokenizer,
    store,
  };
}

async function readTokenizer(
  tokenizerSource: ByteSource,
  configSource: ByteSource | undefined,
): Promise<TextTokenizer> {
  const json = await readJsonSource(tokenizerSource);
  const config = configSource ? await readJsonSource(configSource) : undefined;
  return tokenizerFromHfJson(json, config, tokenizerSource.name);
}

/** Every read is scanned for NaN, ±Infinity and overflowing values (see finite.ts), whatever the format. */
function checkpointOf(
  format: Checkpoint['format'],
  path: string,
  { config, contextSource, tokenizer, store }: Parts,
): Checkpoint {
  const infos = new Map(store.tensors.map((t) => [t.name, t]));
  return {
    format,
    path,
    config,
    contextSource,
    tokenizer,
    tensors: store.tensors,
    has: (name) => store.has(name),
    read: async (name) => {
      const info = store.has(name) ? infos.get(name) : undefined;
      if (!info) throw new CheckpointError('missing-tensor', path, `no tensor named "${name}"`);
      const data = await store.read(name);
      checkFinite(
        store.fileOf?.(name) ?? store.file,
        name,
        data,
        info.shape,
        format === 'gguf' ? hfToGgufName(name) : undefined,
      );
      return data;
    },
    readQuantized: async (name) => {
      const packed = await store.readQuantized?.(name);
      if (packed) checkFinite(store.file, name, packed.scales, [packed.scales.length], hfToGgufName(name));
      return packed;
    },
    close: () => store.close(),
  };
}
