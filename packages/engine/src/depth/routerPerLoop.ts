import { depthForward, expertForcedDepth, tokenForcedDepth, type LoopRouting } from '@recur/router';
import { tf } from '@recur/tensor';
import type { LoadedModel } from '../model.js';
import { targetNll } from '../perplexity.js';

/**
 * Per-loop perplexity of a MoR model: for each depth d = 1..N, every token — each window's first
 * included — is forced to run exactly d loops with the router's gated updates (expert-choice: each
 * loop's gate α·σ(router_r); token-choice: its form's gate p(d)), so the row for d says what the
 * model predicts for a token its router sends d loops deep. Depth is forced row-wise, so each window
 * is one call and the KV mode makes no difference (every token runs every loop it could attend to).
 */
export function routerPerLoop(
  model: LoadedModel,
  windows: readonly (readonly number[])[],
  onDepth?: () => void,
): { depth: number; perplexity: number }[] {
  const n = model.decoder.loops.loops.length;
  const tokens = windows.reduce((sum, w) => sum + Math.max(0, w.length - 1), 0);
  return Array.from({ length: n }, (_, d) => {
    let nll = 0;
    for (const window of windows)
      if (window.length >= 2) nll += forcedWindowNll(model, window, () => forcedDepthRouting(model, d + 1));
    onDepth?.();
    return { depth: d + 1, perplexity: Math.exp(nll / tokens) };
  });
}

/** The router's routing with its depth choice replaced by `depth` for every token. */
export function forcedDepthRouting(model: LoadedModel, depth: number): LoopRouting {
  const router = model.recur?.router;
  if (!router || !model.routerParams)
    throw new RangeError(`${model.source.path}: forced-depth routing needs a model trained with a router`);
  const numRecursions = model.decoder.loops.loops.length;
  return router.kind === 'expert'
    ? expertForcedDepth(model.routerParams, { depth, numRecursions, alpha: router.alpha })
    : tokenForcedDepth(model.routerParams, { depth, numRecursions, form: router.tokenForm ?? 'gated-every-loop' });
}

function forcedWindowNll(model: LoadedModel, window: readonly number[], routing: () => LoopRouting): number {
  const cache = model.decoder.newDepthCache(model.recur?.router?.kvMode ?? 'recursion-wise');
  try {
    const logits = tf.tidy(
      () => depthForward(model.decoder, window.slice(0, -1), { cache, routing: routing() }).logits,
    ); // [T, V]
    try {
      return targetNll(logits, window.slice(1));
    } finally {
      logits.dispose();
    }
  } finally {
    cache.dispose();
  }
}
