import type { DepthKvMode, DepthRouting, FastDecoder } from '@recur/graph';
import { timeBench, type ForwardBenchOptions, type ForwardBenchResult } from './bench.js';

/** A router model's routing, run through the per-token-depth forward (every token, prompt included, routed). */
export interface RoutedBench {
  readonly routing: DepthRouting;
  readonly kvMode: DepthKvMode;
}

/** benchmarkForward on the fast path: the same protocol (timeBench). */
export async function benchmarkFastForward(
  fast: FastDecoder,
  options: ForwardBenchOptions,
): Promise<ForwardBenchResult> {
  if (options.routed) return benchmarkRouted(fast, options, options.routed);
  return timeBench(fast.config, options, {
    prefill: async (ids) => void fast.forward(ids, { lastOnly: true }),
    session: () => {
      const cache = fast.newCache(options.prefillTokens + options.decodeTokens);
      return { step: async (ids) => void fast.forward(ids, { cache, lastOnly: true }), dispose: () => cache.dispose() };
    },
  });
}

/**
 * The same protocol through forwardDepth under a router: prefill and decode tokens run the loops their
 * router gives them. FLOP/s count the full-depth forward (what the prompt would cost unrouted), so a
 * routed run's GFLOP/s reads as "full-depth work per second"; averageDepth (over the first prefill and
 * the decode steps) says how deep tokens went.
 */
async function benchmarkRouted(
  fast: FastDecoder,
  options: ForwardBenchOptions,
  routed: RoutedBench,
): Promise<ForwardBenchResult> {
  const { prefillTokens, decodeTokens } = options;
  const run = { routing: routed.routing, kvMode: routed.kvMode, lastOnly: true };
  const depthOf = (depths: Int32Array): number => depths.reduce((a, b) => a + b, 0);
  let depthSum = 0;
  let prefills = 0;
  const timed = await timeBench(fast.config, options, {
    prefill: async (ids) => {
      const cache = fast.newCache(prefillTokens, routed.kvMode);
      const { depths } = fast.forwardDepth(ids, { ...run, cache });
      if (prefills++ === 0) depthSum += depthOf(depths);
      cache.dispose();
    },
    session: () => {
      const cache = fast.newCache(prefillTokens + decodeTokens, routed.kvMode);
      let primed = false;
      return {
        step: async (ids) => {
          const { depths } = fast.forwardDepth(ids, { ...run, cache });
          if (primed) depthSum += depthOf(depths);
          primed = true;
        },
        dispose: () => cache.dispose(),
      };
    },
  });
  return { ...timed, averageDepth: depthSum / (prefillTokens + decodeTokens) };
}
