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
  if (bos === null) throw new SampleCorpusError(`${model.source.path}: the tokenizer has no BOS token to start documents from`);
  const context = model.decoder.config.maxPositionEmbeddings;
  if (options.maxDocTokens + 1 > context) {
    throw new SampleCorpusError(`max document tokens ${options.maxDocTokens} + BOS exceed the model's context of ${context} tokens`);
  }
  const engine = await fastEngine(model, options.batch);
  const results: ServeResult[] = [];
  let generated = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let launched = 0;
      let running = 0;
      const launch = (): void => {
        const index = launched++;
        running++;
        const request = { promptIds: [bos], maxNewTokens: options.maxDocTokens, sampling: { temperature: options.temperature, ...(options.topP !== undefined && { topP: options.topP }), seed: documentSeed(options.seed, index) } };
        engine.submit(request, { onToken: () => options.onProgress?.(Math.min(++generated, options.tokens), options.tokens) }).then((result) => {
          results[index] = result;
          running--;
          if (generated < options.tokens) launch();
          else if (running === 0) resolve();
        }, reject);
      };
      for (let i = 0; i < options.batch; i++) launch();
    });
  } finally {
    await engine.drain().catch(() => undefined);
    engine.dispose();
  }
  return { documents: firstTokens(results, options.tokens).map((ids) => documentText(model, ids)), tokens: options.tokens };
}

async function fastEngine(model: LoadedModel, batch: number): Promise<ServingEngine> {
  try {
    return await createServingEngine(model, { scheduler: { maxRowsPerStep: batch, tokenBudgetPerStep: Math.max(256, batch) } });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new SampleCorpusError(`${model.source.path}: sample-corpus runs on the batched fast path (wasm backend), which this model cannot use: ${why}`);
  }
}

/** Documents in index order (so completion order never matters) until `total` tokens, the last one cut to fit. */
function firstTokens(results: readonly ServeResult[], total: number): number[][] {
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
  return model.tokenizer.decode(ids).trim().replace(/\n[^\S\n]*\n+/g, '\n');
}

/** A distinct 32-bit seed per document. */
function documentSeed(seed: number, index: number): number {
  return (Math.imul(index + 1, 0x9e3779b1) ^ seed) >>> 0;
}
