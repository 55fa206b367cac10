import { generate } from './generate.js';
import type { LoadedModel } from './model.js';
import { createServingEngine } from './serve/servingEngine.js';
import type { ServeResult, ServingEngine } from './serve/types.js';

/** Sequence-level distillation data: the teacher's own text (Kim & Rush 2016), N tokens of it. */
export interface SampleCorpusOptions {
  /** Generated tokens to write in all (BOS and EOS not counted); the last document is cut to make it exact. */
  readonly tokens: number;
  /** A document ends at EOS or after this many tokens. */
  readonly maxDocTokens: number;
  /** Documents decoded together on the batched fast path. */
  readonly batch: number;
  readonly temperature: number;
  readonly topP?: number;
  /** Document i samples with its own seed derived from this one, so the text does not depend on batching order. */
  readonly seed: number;
  readonly onProgress?: (generated: number, total: number) => void;
}

export interface SampledCorpus {
  /** One text per document, without blank lines inside (they would split it when read back). */
  readonly documents: readonly string[];
  readonly tokens: number;
  /** 'fast': batched on the serving engine; 'tfjs': one document at a time, because the fast path refused the model. */
  readonly path: 'fast' | 'tfjs';
  /** Why the fast path was not used (only with path 'tfjs'). */
  readonly note?: string;
}

export class SampleCorpusError extends Error {
  override readonly name = 'SampleCorpusError';
}

/**
 * Samples documents (BOS → tokens until EOS or maxDocTokens) from `model` with `batch` of them in
 * flight on the serving engine, until `tokens` generated tokens are in. Same model, options and
 * seed → the same documents: each one's text depends only on its index's seed.
 */
export async function sampleCorpus(model: LoadedModel, options: SampleCorpusOptions): Promise<SampledCorpus> {
  const bos = model.tokenizer.bosId;
  if (bos === null)
    throw new SampleCorpusError(`${model.source.path}: the tokenizer has no BOS token to start documents from`);
  const context = model.decoder.config.maxPositionEmbeddings;
  if (options.maxDocTokens + 1 > context) {
    throw new SampleCorpusError(
      `max document tokens ${options.maxDocTokens} + BOS exceed the model's context of ${context} tokens`,
    );
  }
  let engine: ServingEngine;
  try {
    engine = await createServingEngine(model, {
      scheduler: { maxRowsPerStep: options.batch, tokenBudgetPerStep: Math.max(256, options.batch) },
    });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    const results = await oneByOne(model, bos, options);
    return {
      ...corpusOf(model, results, options.tokens),
      path: 'tfjs',
      note: `the batched fast path cannot run this model (${why}); documents were sampled one at a time on the tfjs decoder`,
    };
  }
  return { ...corpusOf(model, await batched(engine, bos, options), options.tokens), path: 'fast' };
}

function corpusOf(
  model: LoadedModel,
  results: readonly { readonly ids: readonly number[] }[],
  tokens: number,
): { documents: string[]; tokens: number } {
  return { documents: firstTokens(results, tokens).map((ids) => documentText(model, ids)), tokens };
}

/** `batch` documents in flight; a finished one is replaced by the next until enough tokens are in. */
async function batched(engine: ServingEngine, bos: number, options: SampleCorpusOptions): Promise<ServeResult[]> {
  const results: ServeResult[] = [];
  let generated = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let launched = 0;
      let running = 0;
      let completed = 0;
      const launch = (): void => {
        const index = launched++;
        running++;
        const sampling = {
          temperature: options.temperature,
          ...(options.topP !== undefined && { topP: options.topP }),
          seed: documentSeed(options.seed, index),
        };
        engine
          .submit(
            { promptIds: [bos], maxNewTokens: options.maxDocTokens, sampling },
            {
              // counted outside the optional call: `f?.(++n)` skips the increment when there is no f
              onToken: () => {
                generated++;
                options.onProgress?.(Math.min(generated, options.tokens), options.tokens);
              },
            },
          )
          .then((result) => {
            results[index] = result;
            running--;
            // tokens counted so far may include unfinished documents; a stuck model yields none at all
            if (stuck(++completed, generated)) reject(stuckError());
            else if (generated < options.tokens) launch();
            else if (running === 0) resolve();
          }, reject);
      };
      for (let i = 0; i < options.batch; i++) launch();
    });
  } finally {
    await engine.drain().catch(() => undefined);
    engine.dispose();
  }
  return results;
}

/** The fallback: one document at a time through `generate` (tfjs decoder), same per-document seeds. */
async function oneByOne(model: LoadedModel, bos: number, options: SampleCorpusOptions): Promise<{ ids: number[] }[]> {
  const results: { ids: number[] }[] = [];
  let generated = 0;
  for (let index = 0; generated < options.tokens; index++) {
    const sampling = {
      temperature: options.temperature,
      ...(options.topP !== undefined && { topP: options.topP }),
      seed: documentSeed(options.seed, index),
    };
    const { ids } = await generate(model, {
      prompt: '',
      promptIds: [bos],
      maxNewTokens: options.maxDocTokens,
      ...sampling,
    });
    results.push({ ids });
    generated += ids.length;
    if (stuck(index + 1, generated)) throw stuckError();
    options.onProgress?.(Math.min(generated, options.tokens), options.tokens);
  }
  return results;
}

/** Documents in index order (so completion order never matters) until `total` tokens, the last one cut to fit. */
function firstTokens(results: readonly { readonly ids: readonly number[] }[], total: number): number[][] {
  const out: number[][] = [];
  let count = 0;
  for (const result of results) {
    if (count >= total) break;
    if (result.ids.length === 0) continue; // an immediate EOS makes no document
    const ids = result.ids.slice(0, total - count);
    out.push(ids);
    count += ids.length;
  }
  return out;
}

/** Decoded text with any blank line closed up: the data reader splits documents at blank lines. */
function documentText(model: LoadedModel, ids: readonly number[]): string {
  return model.tokenizer
    .decode(ids)
    .trim()
    .replace(/\n[^\S\n]*\n+/g, '\n');
}

/** Every document so far ended at once (EOS right after BOS): more of them would never reach N. */
const stuck = (documents: number, generated: number): boolean => documents >= 64 && generated === 0;
const stuckError = (): SampleCorpusError =>
  new SampleCorpusError('64 documents in a row ended at once (EOS right after BOS); raise --temperature');

/** A distinct 32-bit seed per document. */
function documentSeed(seed: number, index: number): number {
  return (Math.imul(index + 1, 0x9e3779b1) ^ seed) >>> 0;
}
