import { forwardFlops, type Decoder, type FastDecoder } from '@recur/graph';
import { benchmarkFastForward, type RoutedBench } from './benchFast.js';

export interface ForwardBenchOptions {
  readonly prefillTokens: number;
  readonly decodeTokens: number;
  /** Prefill repetitions after one warm-up; the best is reported. */
  readonly repeats?: number;
  /** Time this FastDecoder (built over the decoder's weights) instead of the tfjs decoder. */
  readonly fast?: FastDecoder;
  /** With `fast`: run a router model's routing (prefill and decode tokens routed) instead of full depth. */
  readonly routed?: RoutedBench;
}

export interface ForwardBenchResult {
  readonly prefillTokensPerSecond: number;
  readonly prefillGflops: number;
  readonly decodeTokensPerSecond: number;
  readonly decodeMsPerToken: number;
  /** Routed runs: mean loops per token over the first prefill and the decode steps. */
  readonly averageDepth?: number;
}

/** Times a batch-1 prefill of random ids, then cached decode steps (logits read back each step, as generation does). */
export async function benchmarkForward(decoder: Decoder, options: ForwardBenchOptions): Promise<ForwardBenchResult> {
  if (options.fast) return benchmarkFastForward(options.fast, options);
  if (options.routed) throw new RangeError('benchmarkForward: a routed run needs the fast path (options.fast)');
  const { prefillTokens, decodeTokens } = options;
  const vocab = decoder.config.vocabSize;
  const ids = Array.from({ length: prefillTokens }, (_, i) => (i * 7919 + 13) % vocab);
  let bestPrefill = Infinity;
  for (let r = 0; r < 1 + (options.repeats ?? 2); r++) {
    const start = performance.now();
    const logits = decoder.forward(ids, { lastOnly: true });
    await logits.data();
    logits.dispose();
    if (r > 0) bestPrefill = Math.min(bestPrefill, performance.now() - start);
  }
  const cache = decoder.newCache();
  decoder.forward(ids, { cache, lastOnly: true }).dispose();
  const start = performance.now();
  for (let i = 0; i < decodeTokens; i++) {
    const logits = decoder.forward([ids[i % ids.length]!], { cache, lastOnly: true });
    await logits.data();
    logits.dispose();
  }
  const decodeMs = performance.now() - start;
  cache.dispose();
  return {
    prefillTokensPerSecond: prefillTokens / (bestPrefill / 1000),
    prefillGflops: forwardFlops(decoder.config, prefillTokens, { logitRows: 1 }) / (bestPrefill / 1000) / 1e9,
    decodeTokensPerSecond: decodeTokens / (decodeMs / 1000),
    decodeMsPerToken: decodeMs / decodeTokens,
  };
}
