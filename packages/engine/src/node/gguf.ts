import { basename } from 'node:path';
import {
  ggufTokenizerMetadata, hfToGgufName, llamaGgufMetadata, permuteRopeRows, readGguf, writeGguf,
  type GgufMetadataEntry, type GgufWriteTensor,
} from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import { decoderWeightSpecs } from '@recur/graph';
import { plainModel, type LoraExport } from '../export.js';
import type { LoadedModel } from '../model.js';
import { tokenizerFiles, writeAtomic } from './files.js';

export interface GgufExportOptions {
  /** Weight matrices in F32 (exact) or F16 (half the bytes); norms stay F32 as llama.cpp expects. */
  readonly dtype?: 'F32' | 'F16';
  readonly lora?: Exclude<LoraExport, 'peft'>;
}

/**
 * Writes `model` as a llama.cpp GGUF file: the plain (unrolled, LoRA-merged) model, tensors renamed
 * and q/k rows permuted to llama.cpp's interleaved RoPE layout, with its tokenizer.
 */
export async function exportGguf(model: LoadedModel, path: string, options: GgufExportOptions = {}): Promise<{ path: string; bytes: number; numLayers: number }> {
  const dtype = options.dtype ?? 'F32';
  const plain = plainModel(model, { lora: options.lora ?? 'merge' });
  const { config } = plain;
  const tensors: GgufWriteTensor[] = decoderWeightSpecs(config).map((spec) => {
    const name = hfToGgufName(spec.name);
    const data = plain.arrays.get(spec.name);
    if (!name || !data) throw new Error(`exportGguf: no GGUF name or data for ${spec.name}`);
    const heads = /self_attn\.q_proj/.test(spec.name) ? config.numHeads : /self_attn\.k_proj/.test(spec.name) ? config.numKvHeads : 0;
    const cols = spec.shape[1] ?? 1;
    return { name, shape: spec.shape, dtype: spec.shape.length === 2 ? dtype : 'F32', data: heads ? permuteRopeRows(data, heads, cols) : data };
  });
  const name = basename(path).replace(/\.gguf$/, '');
  const metadata = [...llamaGgufMetadata(config, name, dtype), ...(await tokenizerMetadata(model))];
  const bytes = writeGguf({ metadata, tensors });
  await writeAtomic(path, bytes);
  return { path, bytes: bytes.byteLength, numLayers: config.numLayers };
}

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
  return ggufTokenizerMetadata(JSON.parse(json), model.source.path, { bosId: model.config.bosTokenId, eosId: model.config.eosTokenId });
}
