import { forwardFlops, type FastDecoder } from '@recur/graph';
import type { ForwardBenchOptions, ForwardBenchResult } from './bench.js';

/** benchmarkForward on the fast path: the same protocol (best prefill of `repeats`, then cached decode steps). */
export async function benchmarkFastForward(
  fast: FastDecoder,
  options: ForwardBenchOptions,
): Promise<ForwardBenchResult> {
  const { prefillTokens, decodeTokens } = options;
  const vocab = fast.config.vocabSize;
  const ids = Array.from({ length: prefillTokens }, (_, i) => (i * 7919 + 13) % vocab);
  let bestPrefill = Infinity;
  for (let r = 0; r < 1 + (options.repeats ?? 2); r++) {
    const start = performance.now();
    fast.forward(ids, { lastOnly: true });
    if (r > 0) bestPrefill = Math.min(bestPrefill, performance.now() - start);
  }
  const cache = fast.newCache(prefillTokens + decodeTokens);
  fast.forward(ids, { cache, lastOnly: true });
  const start = performance.now();
  for (let i = 0; i < decodeTokens; i++) fast.forward([ids[i % ids.length]!], { cache, lastOnly: true });
  const decodeMs = performance.now() - start;
  cache.dispose();
  return {
    prefillTokensPerSecond: prefillTokens / (bestPrefill / 1000),
    prefillGflops: forwardFlops(fast.config, prefillTokens, { logitRows: 1 }) / (bestPrefill / 1000) / 1e9,
    decodeTokensPerSecond: decodeTokens / (decodeMs / 1000),
    decodeMsPerToken: decodeMs / decodeTokens,
  };
}
