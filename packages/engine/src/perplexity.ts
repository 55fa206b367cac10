import { tf } from '@recur/tensor';
import type { FastDecoder } from '@recur/graph';
import { fastDecoderFor } from './fast.js';
import type { LoadedModel } from './model.js';

export interface PerplexityOptions {
  /** Tokens per scored window, BOS included. */
  readonly window: number;
  readonly onProgress?: (windowsDone: number, windowsTotal: number) => void;
  /** Score on the FastDecoder when the model allows it (default), or on the tfjs decoder (false). */
  readonly fast?: boolean;
}

export interface PerplexityResult {
  readonly tokens: number;
  readonly meanNll: number;
  readonly perplexity: number;
  readonly windows: number;
  /** Which decoder scored the windows. */
  readonly path: 'fast' | 'tfjs';
}

/**
 * Token-level perplexity by the stories260K reference protocol: tokenize the whole text once,
 * drop the BOS, cut the stream into consecutive chunks of window−1 tokens, and score each chunk
 * independently as [BOS] + chunk. Sums are kept in float64.
 */
export async function evaluatePerplexity(
  model: LoadedModel,
  text: string,
  options: PerplexityOptions,
): Promise<PerplexityResult> {
  const windows = perplexityWindows(model, text, options.window);
  if (windows.length === 0) throw new RangeError('no tokens to score: the text is empty'); // not a NaN perplexity
  const fast = options.fast === false ? undefined : (await fastDecoderFor(model)).fast;
  let total = 0;
  let tokens = 0;
  for (const [w, input] of windows.entries()) {
    total += fast ? fastWindowNll(fast, input) : await windowNll(model, input, input.slice(1));
    tokens += input.length - 1;
    options.onProgress?.(w + 1, windows.length);
  }
  const meanNll = total / tokens;
  return { tokens, meanNll, perplexity: Math.exp(meanNll), windows: windows.length, path: fast ? 'fast' : 'tfjs' };
}

/** The protocol's windows: [BOS] + each consecutive chunk of window − 1 tokens of the text. */
export function perplexityWindows(model: LoadedModel, text: string, window: number): number[][] {
  if (!Number.isInteger(window) || window < 2) throw new RangeError(`window must be an integer ≥ 2, got ${window}`);
  if (window > model.config.maxPositionEmbeddings) {
    throw new RangeError(
      `window ${window} exceeds the model's context of ${model.config.maxPositionEmbeddings} tokens`,
    );
  }
  const bos = model.tokenizer.bosId;
  if (bos === null)
    throw new RangeError('this perplexity protocol starts every window with BOS, and the tokenizer has none');
  const stream = model.tokenizer.encode(text, { addBos: false });
  const chunk = window - 1;
  return Array.from({ length: Math.ceil(stream.length / chunk) }, (_, w) => [
    bos,
    ...stream.slice(w * chunk, (w + 1) * chunk),
  ]);
}

/** Σ −log p(target[t] | input[0..t]) for one window. */
async function windowNll(model: LoadedModel, input: number[], targets: number[]): Promise<number> {
  const picked = tf.tidy(() => targetLogProbs(model.decoder.forward(input), targets)); // [n]
  try {
    return -sumOf(await picked.data()); // an async read: webgpu has no synchronous one in Node
  } finally {
    picked.dispose();
  }
}

/** windowNll on the fused kernels: one uncached forward returns every row's logits [T·V]. */
function fastWindowNll(fast: FastDecoder, input: readonly number[]): number {
  const vocab = fast.config.vocabSize;
  const logits = fast.forward(input);
  let sum = 0;
  for (let t = 0; t + 1 < input.length; t++) sum += rowNll(logits.subarray(t * vocab, (t + 1) * vocab), input[t + 1]!);
  return sum;
}

/** −log softmax(row)[target], in float64 (log-sum-exp shifted by the row's max). */
function rowNll(row: Float32Array, target: number): number {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return max + Math.log(sum) - row[target]!;
}

/** Σ_t −log softmax(logits[t])[targets[t]] over the first targets.length rows of logits [T, V] (float64 sum). */
export function targetNll(logits: tf.Tensor2D, targets: readonly number[]): number {
  return -sumOf(tf.tidy(() => targetLogProbs(logits, targets).dataSync()));
}

/** log softmax(logits[t])[targets[t]] for each target row: [n]. Call inside tf.tidy. */
function targetLogProbs(logits: tf.Tensor2D, targets: readonly number[]): tf.Tensor1D {
  const logProbs = tf.logSoftmax(tf.slice(logits, [0, 0], [targets.length, -1])); // [n, V]
  const vocab = logProbs.shape[1];
  const flatIndex = tf.tensor1d(
    targets.map((id, t) => t * vocab + id),
    'int32',
  ); // [n]
  return tf.gather(tf.reshape(logProbs, [-1]), flatIndex); // [n]: row t's entry for targets[t]
}

/** A float64 sum of float32 values. */
function sumOf(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum;
}
