import { createHash } from 'node:crypto';
import type { TextTokenizer } from '@recur/checkpoint';
import { PackedBatcher, packWindows, splitTrainVal, windowCount } from '@recur/train';
import { loadTokenCorpus } from '@recur/train/node';

export interface TrainingDataOptions {
  readonly textFile: string;
  readonly tokenizer: TextTokenizer;
  /** Identifies the tokenizer in the token-cache key (e.g. its tokenizer.json text). */
  readonly tokenizerIdentity: string;
  readonly cacheDir: string;
  readonly seqLen: number;
  readonly batchSize: number;
  /** Share of documents held out (the last ones: the split is the same for every run on a file). */
  readonly valFraction: number;
  readonly seed: number;
  readonly onTokenizeProgress?: (doneBytes: number, totalBytes: number) => void;
}

export interface TrainingData {
  readonly batcher: PackedBatcher;
  /** Held-out windows of seqLen + 1 tokens (a shorter last one when the split is small). */
  readonly validation: Int32Array[];
  readonly trainTokens: number;
  readonly validationTokens: number;
  readonly fromCache: boolean;
}

/** Tokenizes a text file once (cached), holds out whole documents, packs the rest into a seeded batcher. */
export async function trainingData(options: TrainingDataOptions): Promise<TrainingData> {
  const loaded = await loadTokenCorpus({
    textFile: options.textFile,
    tokenizer: options.tokenizer,
    tokenizerIdentity: options.tokenizerIdentity,
    cacheDir: options.cacheDir,
    ...(options.onTokenizeProgress ? { onProgress: options.onTokenizeProgress } : {}),
  });
  const { train, val } = splitTrainVal(loaded.corpus, { valFraction: options.valFraction, source: options.textFile });
  const batcher = new PackedBatcher({
    tokens: train.tokens,
    seqLen: options.seqLen,
    batchSize: options.batchSize,
    seed: options.seed,
    source: options.textFile,
  });
  return {
    batcher,
    validation: validationWindows(val.tokens, options.seqLen),
    trainTokens: train.tokens.length,
    validationTokens: val.tokens.length,
    fromCache: loaded.fromCache,
  };
}

function validationWindows(tokens: Int32Array, seqLen: number): Int32Array[] {
  if (windowCount(tokens.length, seqLen) > 0) return packWindows(tokens, seqLen);
  return tokens.length >= 2 ? [tokens] : [];
}

/** A short stable id for a tokenizer.json text. */
export function tokenizerIdentity(json: string): string {
  return createHash('sha256').update(json).digest('hex');
}
