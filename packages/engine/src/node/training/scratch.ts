import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configFromHf, tokenizerFromHfJson, type ModelConfig } from '@recur/checkpoint';
import { decoderWeightSpecs, randomDecoder, type SharingStrategy } from '@recur/graph';
import { loraKindFields, type LoraKindSpec } from '@recur/lora';
import { trainBpeTokenizer } from '@recur/train';
import { convertModel } from '../../convert.js';
import type { LoadedModel } from '../../model.js';
import { json, writeAtomic } from '../files.js';
import { checkTrainingFits, type TrainingShape } from './limits.js';

export interface ScratchModelOptions {
  /** A Hugging Face config.json describing the model (vocab_size must match the tokenizer). */
  readonly configFile: string;
  /** An existing tokenizer.json, or a vocabulary size to train a byte-level BPE on `corpusText`. */
  readonly tokenizer: { readonly file: string } | { readonly vocabSize: number; readonly corpusText: string };
  /** Where the tokenizer files are written (they travel with every checkpoint of the run). */
  readonly dir: string;
  readonly seed: number;
  /**
   * Tie the fresh layers into a looped block: a recursive model trained from scratch. No LoRA, unless
   * `loraKind` names a generated kind (hyper, scaled): then per-loop LoRA of that kind, rank 8, starting at no change.
   */
  readonly recursive?: { readonly loops: number; readonly strategy: SharingStrategy; readonly loraKind?: LoraKindSpec };
  /** The run's micro-batch: a config whose context or memory cannot hold it is refused before anything is built. */
  readonly training?: TrainingShape;
}

/** A fresh Llama-family model with N(0, 0.02) weights (norms at 1) and its tokenizer. */
export async function scratchModel(options: ScratchModelOptions): Promise<LoadedModel> {
  const configText = await readFile(options.configFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`${options.configFile}: cannot read the model config (${e.code ?? e.message})`);
  });
  const parsed = configFromHf(JSON.parse(configText), options.configFile);
  if (options.training) checkTrainingFits(parsed, options.training, options.configFile);
  const files = await tokenizerFilesFor(options.tokenizer);
  const tokenizer = tokenizerFromHfJson(files.tokenizer, files.config);
  if (parsed.vocabSize !== tokenizer.vocabSize) {
    throw new Error(
      `${options.configFile}: vocab_size is ${parsed.vocabSize} but the tokenizer has ${tokenizer.vocabSize} tokens`,
    );
  }
  const config: ModelConfig = { ...parsed, bosTokenId: tokenizer.bosId, eosTokenId: tokenizer.eosId };
  await mkdir(options.dir, { recursive: true });
  await writeAtomic(join(options.dir, 'tokenizer.json'), json(files.tokenizer));
  await writeAtomic(join(options.dir, 'tokenizer_config.json'), json(files.config));
  const decoder = randomDecoder(config, { seed: options.seed, std: 0.02 });
  const model: LoadedModel = {
    decoder,
    tokenizer,
    config,
    source: { path: options.dir, format: 'safetensors' },
    tensors: decoderWeightSpecs(config).map((s) => ({ name: s.name, shape: [...s.shape], dtype: 'F32' })),
  };
  return options.recursive ? tieFresh(model, options.recursive, options.seed) : model;
}

/** The fresh layers tied into `loops` runs of a shared block (stepwise picks; adapters only of a generated kind). */
async function tieFresh(
  model: LoadedModel,
  shape: NonNullable<ScratchModelOptions['recursive']>,
  seed: number,
): Promise<LoadedModel> {
  const { loraKind, ...tying } = shape;
  const rank = loraKind ? freshKindRank : 0;
  try {
    const converted = await convertModel(model, {
      ...tying,
      ...(loraKind && loraKindFields(loraKind)),
      init: 'stepwise',
      seed,
      ranks: { attention: rank, mlp: rank },
      loraInit: 'zero',
      norms: 'tied',
    });
    const { plan: _plan, parameters: _parameters, ...recursive } = converted;
    return recursive;
  } finally {
    model.decoder.dispose();
  }
}

/** LoRA rank of a fresh model's generated kind (convert's default rank). */
const freshKindRank = 8;

async function tokenizerFilesFor(
  spec: ScratchModelOptions['tokenizer'],
): Promise<{ tokenizer: Record<string, unknown>; config: Record<string, unknown> }> {
  if ('file' in spec) {
    const tokenizer = JSON.parse(await readFile(spec.file, 'utf8')) as Record<string, unknown>;
    return { tokenizer, config: {} };
  }
  const trained = trainBpeTokenizer(spec.corpusText, { vocabSize: spec.vocabSize });
  return { tokenizer: trained.tokenizer, config: trained.config };
}
