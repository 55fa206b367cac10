import { basename } from 'node:path';
import {
  ggufTokenizerMetadata,
  hfToGgufName,
  llamaGgufMetadata,
  permuteRopeRows,
  readGguf,
  type GgufMetadataEntry,
  type GgufWriteDtype,
  type ModelConfig,
} from '@recur/checkpoint';
import { openFileSource, writeGgufFile } from '@recur/checkpoint/node';
import { decoderWeightSpecs } from '@recur/graph';
import { plainModel, type LoraExport } from '../export.js';
import type { LoadedModel } from '../model.js';
import { tokenizerFiles } from './files.js';
import { writeOutput, type OutputOptions } from './output.js';
import { GGUF_WRITER_KEY, isRecurGguf } from './ownOutput.js';
import { matrixDtype } from './ggufDtype.js';

export interface GgufExportOptions extends OutputOptions {
  /**
   * Weight matrices (embedding and LM head included) in F32 (exact), F16, Q8_0 or Q4_0; norms stay
   * F32 as llama.cpp expects, and so does a matrix whose rows are not whole blocks (see `matrixDtype`).
   */
  readonly dtype?: GgufWriteDtype;
  readonly lora?: Exclude<LoraExport, 'peft'>;
  /** Export a MoR model without its router (full depth); refused otherwise. */
  readonly dropRouter?: boolean;
}

/**
 * Writes `model` as a llama.cpp GGUF file: the plain (unrolled, LoRA-merged) model, tensors renamed
 * and q/k rows permuted to llama.cpp's interleaved RoPE layout, with its tokenizer.
 */
export async function exportGguf(
  model: LoadedModel,
  path: string,
  options: GgufExportOptions = {},
): Promise<GgufWriteResult> {
  const plain = plainModel(model, { lora: options.lora ?? 'merge', dropRouter: options.dropRouter ?? false });
  const tokenizer = await tokenizerMetadata(model);
  const target = {
    kind: 'file' as const,
    sources: [model.source.path, ...(options.sources ?? [])],
    ...(options.force !== undefined && { force: options.force }),
    isOwn: isRecurGguf,
  };
  // The file is written beside `path` and renamed over it (see `writeOutput`); the result names `path`.
  const written = await writeOutput(path, target, (temp) =>
    writeGgufModel(plain, temp, { dtype: options.dtype ?? 'F32', tokenizer, name: ggufName(path) }),
  );
  return { ...written, path };
}

export interface GgufWriteResult {
  readonly path: string;
  readonly bytes: number;
  readonly numLayers: number;
  /** How many tensors were written in each ggml type, e.g. { Q8_0: 36, F32: 16 }. */
  readonly tensorTypes: Readonly<Record<string, number>>;
}

/**
 * Writes a plain Llama (config + weights by HF key) as GGUF. `tokenizer: 'placeholder'` writes a
 * stand-in vocabulary of the model's size, for random-weight benchmark models fed token ids
 * (llama.cpp's "no_vocab" files load, but it asserts when it detokenizes a sampled token).
 */
export async function writeGgufModel(
  plain: { config: ModelConfig; arrays: Pick<ReadonlyMap<string, Float32Array>, 'get'> },
  path: string,
  options: { dtype: GgufWriteDtype; tokenizer: GgufMetadataEntry[] | 'placeholder'; name?: string },
): Promise<GgufWriteResult> {
  const { config } = plain;
  const tensors = decoderWeightSpecs(config).map((spec) => {
    const name = hfToGgufName(spec.name);
    if (!name) throw new Error(`writeGgufModel: no GGUF name for ${spec.name}`);
    const heads = /self_attn\.q_proj/.test(spec.name)
      ? config.numHeads
      : /self_attn\.k_proj/.test(spec.name)
        ? config.numKvHeads
        : 0;
    const cols = spec.shape[1] ?? 1;
    const data = (): Float32Array => {
      const values = plain.arrays.get(spec.name);
      if (!values) throw new Error(`writeGgufModel: no data for ${spec.name}`);
      return heads ? permuteRopeRows(values, heads, cols) : values;
    };
    return { name, shape: spec.shape, dtype: matrixDtype(spec.shape, options.dtype), data };
  });
  const tokenizer = options.tokenizer === 'placeholder' ? placeholderVocabulary(config.vocabSize) : options.tokenizer;
  // marks the file as Recur's own output
  const writer: GgufMetadataEntry = { key: GGUF_WRITER_KEY, type: 'string', value: 'recur' };
  const metadata = [...llamaGgufMetadata(config, options.name ?? ggufName(path), options.dtype), writer, ...tokenizer];
  // streamed: header first, then one tensor at a time (made, permuted, encoded, appended)
  const { bytes } = await writeGgufFile(path, { metadata, tensors });
  const tensorTypes: Record<string, number> = {};
  for (const tensor of tensors) tensorTypes[tensor.dtype] = (tensorTypes[tensor.dtype] ?? 0) + 1;
  return { path, bytes, numLayers: config.numLayers, tensorTypes };
}

const ggufName = (path: string): string => basename(path).replace(/\.gguf$/, '');

/** A GGUF source's own tokenizer entries, else ones built from the model's tokenizer.json. */
async function tokenizerMetadata(model: LoadedModel): Promise<GgufMetadataEntry[]> {
  if (model.source.format === 'gguf') {
    const source = await openFileSource(model.source.path);
    try {
      return (await readGguf(source)).entries.filter((e) => e.key.startsWith('tokenizer.'));
    } finally {
      await source.close?.();
    }
  }
  const files = await tokenizerFiles(model.source.path);
  const json = files['tokenizer.json'];
  if (json === undefined) throw new Error(`${model.source.path}: no tokenizer.json to write into the GGUF`);
  return ggufTokenizerMetadata(JSON.parse(json), model.source.path, {
    bosId: model.config.bosTokenId,
    eosId: model.config.eosTokenId,
  });
}

/** A SentencePiece-style vocabulary of `size` tokens: <unk> <s> </s>, the 256 byte tokens, then "▁t3", "▁t4"… */
function placeholderVocabulary(size: number): GgufMetadataEntry[] {
  const tokens = Array.from({ length: size }, (_, id) =>
    id < 3
      ? ['<unk>', '<s>', '</s>'][id]!
      : id < 259
        ? `<0x${(id - 3).toString(16).toUpperCase().padStart(2, '0')}>`
        : `▁t${id}`,
  );
  const types = tokens.map((_, id) => (id === 0 ? 2 : id < 3 ? 3 : id < 259 ? 6 : 1)); // unknown, control, byte, normal
  return [
    { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: tokens },
    { key: 'tokenizer.ggml.scores', type: 'array', itemType: 'float32', value: tokens.map(() => 0) },
    { key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'int32', value: types },
    { key: 'tokenizer.ggml.bos_token_id', type: 'uint32', value: 1 },
    { key: 'tokenizer.ggml.eos_token_id', type: 'uint32', value: 2 },
  ];
}
