import { tf } from '@recur/tensor';
import type { LoadedModel } from './model.js';

export interface PerplexityOptions {
  /** Tokens per scored window, BOS included. */
  readonly window: number;
  readonly onProgress?: (windowsDone: number, windowsTotal: number) => void;
}

export interface PerplexityResult {
  readonly tokens: number;
  readonly meanNll: number;
  readonly perplexity: number;
  readonly windows: number;
}

/**
 * Token-level perplexity by the stories260K reference protocol: tokenize the whole text once,
 * drop the BOS, cut the stream into consecutive chunks of window−1 tokens, and score each chunk
 * independently as [BOS] + chunk. Sums are kept in float64.
 */
export async function evaluatePerplexity(model: LoadedModel, text: string, options: PerplexityOptions): Promise<PerplexityResult> {
  if (!Number.isInteger(options.window) || options.window < 2) throw new RangeError(`window must be an integer ≥ 2, got ${options.window}`);
  if (options.window > model.config.maxPositionEmbeddings) {
    throw new RangeError(`window ${options.window} exceeds the model's context of ${model.config.maxPositionEmbeddings} tokens`);
  }
  const bos = model.tokenizer.bosId;
  if (bos === null) throw new RangeError('this perplexity protocol starts every window with BOS, and the tokenizer has none');
  const stream = model.tokenizer.encode(text, { addBos: false });
  const chunk = options.window - 1;
  const windows = Math.ceil(stream.length / chunk);
  let total = 0;
  for (let w = 0; w < windows; w++) {
    const targets = stream.slice(w * chunk, (w + 1) * chunk);
    total += await windowNll(model, [bos, ...targets], targets);
    options.onProgress?.(w + 1, windows);
  }
  const meanNll = stream.length ? total / stream.length : NaN;
  return { tokens: stream.length, meanNll, perplexity: Math.exp(meanNll), windows };
}

/** Σ −log p(target[t] | input[0..t]) for one window. */
async function windowNll(model: LoadedModel, input: number[], targets: number[]): Promise<number> {
  const picked = tf.tidy(() => {
    const logits = tf.slice(model.decoder.forward(input), [0, 0], [targets.length, -1]); // [n, V]
    const logProbs = tf.logSoftmax(logits); // [n, V]
    const vocab = model.config.vocabSize;
    const flatIndex = tf.tensor1d(targets.map((id, t) => t * vocab + id), 'int32'); // [n]
    return tf.gather(tf.reshape(logProbs, [-1]), flatIndex); // [n]: row t's entry for targets[t]
  });
  const values = await picked.data();
  picked.dispose();
  let sum = 0;
  for (const v of values) sum -= v;
  return sum;
}
