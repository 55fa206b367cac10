import { forwardFlops, type DepthKvMode, type DepthRouting, type FastDecoder } from '@recur/graph';
import type { ForwardBenchOptions, ForwardBenchResult } from './bench.js';

/** A router model's routing, run through the per-token-depth forward (every token, prompt included, routed). */
export interface RoutedBench {
  readonly routing: DepthRouting;
  readonly kvMode: DepthKvMode;
}

/** benchmarkForward on the fast path: the same protocol (best prefill of `repeats`, then cached decode steps). */
export async function benchmarkFastForward(
  fast: FastDecoder,
  options: ForwardBenchOptions,
): Promise<ForwardBenchResult> {
  if (options.routed) return benchmarkRouted(fast, options, options.routed);
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

/**
 * The same protocol through forwardDepth under a router: prefill and decode tokens run the loops their
 * router gives them. FLOP/s count the full-depth forward (what the prompt would cost unrouted), so a
 * routed run's GFLOP/s reads as "full-depth work per second"; averageDepth says how deep tokens went.
 */
function benchmarkRouted(fast: FastDecoder, options: ForwardBenchOptions, routed: RoutedBench): ForwardBenchResult {
  const { prefillTokens, decodeTokens } = options;
  const ids = Array.from({ length: prefillTokens }, (_, i) => (i * 7919 + 13) % fast.config.vocabSize);
  const run = { routing: routed.routing, kvMode: routed.kvMode, lastOnly: true };
  let bestPrefill = Infinity;
  let depthSum = 0;
  for (let r = 0; r < 1 + (options.repeats ?? 2); r++) {
    const cache = fast.newCache(prefillTokens, routed.kvMode);
    const start = performance.now();
    const res = fast.forwardDepth(ids, { ...run, cache });
    if (r > 0) bestPrefill = Math.min(bestPrefill, performance.now() - start);
    if (r === 0) depthSum = res.depths.reduce((a, b) => a + b, 0);
    cache.dispose();
  }
  const cache = fast.newCache(prefillTokens + decodeTokens, routed.kvMode);
  fast.forwardDepth(ids, { ...run, cache });
  const start = performance.now();
  for (let i = 0; i < decodeTokens; i++)
    depthSum += fast.forwardDepth([ids[i % ids.length]!], { ...run, cache }).depths[0]!;
  const decodeMs = performance.now() - start;
  cache.dispose();
  return {
    prefillTokensPerSecond: prefillTokens / (bestPrefill / 1000),
    prefillGflops: forwardFlops(fast.config, prefillTokens, { logitRows: 1 }) / (bestPrefill / 1000) / 1e9,
    decodeTokensPerSecond: decodeTokens / (decodeMs / 1000),
    decodeMsPerToken: decodeMs / decodeTokens,
    averageDepth: depthSum / (prefillTokens + decodeTokens),
  };
}
