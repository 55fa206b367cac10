import type { DepthKvMode } from '@recur/graph';
import { depthForward } from '@recur/router';
import { tf } from '@recur/tensor';
import type { LoadedModel } from '../model.js';
import { targetNll } from '../perplexity.js';
import { defaultKvMode, exitRouting, type ExitRule } from './exitRule.js';
import { routerPerLoop } from './routerPerLoop.js';

export interface EvaluateDepthsOptions {
  /** Token windows, each scored on its own from its first token (e.g. [BOS] + text). */
  readonly windows: readonly (readonly number[])[];
  /** Also score the model under this decode-time rule (its perplexity and average depth). */
  readonly rule?: ExitRule;
  readonly kvMode?: DepthKvMode;
  /** Score every depth (`perLoop`; default true). */
  readonly perLoop?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface DepthEvaluation {
  /**
   * Perplexity when every token exits after `depth` loops; for router models, when every token is forced
   * to run exactly `depth` loops with the router's gated updates (routerPerLoop). Empty with perLoop: false.
   */
  readonly perLoop: readonly { readonly depth: number; readonly perplexity: number }[];
  /** Under `rule`: perplexity, mean loops of the routed positions (all but each window's first) and their histogram. */
  readonly policy?: { readonly perplexity: number; readonly averageDepth: number; readonly depthCounts: readonly number[] };
  readonly tokens: number;
}

/**
 * Perplexity at each exit depth and under a decode-time rule. A window's first token is its prompt
 * (full depth); each later token is routed as generation would route it. Rules that read only a
 * token's own state (routers, fixed depths, early exit without an epilogue layer) are scored in one
 * call per window — the same numbers as token-by-token decoding (tested in @recur/router);
 * confidence exits through an epilogue run token by token.
 */
export function evaluateDepths(model: LoadedModel, options: EvaluateDepthsOptions): DepthEvaluation {
  if (options.rule) exitRouting(model, options.rule); // refuses a rule the model cannot run before any work
  const n = model.decoder.loops.loops.length;
  const tokens = options.windows.reduce((sum, w) => sum + Math.max(0, w.length - 1), 0);
  const wantPerLoop = options.perLoop ?? true;
  const total = (wantPerLoop ? n : 0) + (options.rule ? 1 : 0);
  let done = 0;
  const perLoop = !wantPerLoop ? [] : model.recur?.router ? routerPerLoop(model, options.windows, () => options.onProgress?.(++done, total)) : Array.from({ length: n }, (_, d) => {
    const rule: ExitRule = { kind: 'policy', policy: { kind: 'fixed', depth: d + 1 } };
    const { nll } = scoreAll(model, options.windows, rule, 'copy');
    options.onProgress?.(++done, total);
    return { depth: d + 1, perplexity: Math.exp(nll / tokens) };
  });
  if (!options.rule) return { perLoop, tokens };
  const scored = scoreAll(model, options.windows, options.rule, options.kvMode ?? defaultKvMode(model, options.rule));
  options.onProgress?.(++done, total);
  const routed = scored.depthCounts.reduce((a, b) => a + b, 0);
  const averageDepth = scored.depthCounts.reduce((sum, count, d) => sum + count * (d + 1), 0) / Math.max(1, routed);
  return { perLoop, policy: { perplexity: Math.exp(scored.nll / tokens), averageDepth, depthCounts: scored.depthCounts }, tokens };
}

function scoreAll(model: LoadedModel, windows: EvaluateDepthsOptions['windows'], rule: ExitRule, kvMode: DepthKvMode) {
  const n = model.decoder.loops.loops.length;
  const depthCounts = new Array<number>(n).fill(0);
  const oneCall = rule.kind === 'router' || (rule.kind === 'policy' && rule.policy.kind === 'fixed') || model.decoder.loops.epilogue.length === 0;
  let nll = 0;
  for (const window of windows) {
    if (window.length < 2) continue;
    const cache = model.decoder.newDepthCache(kvMode);
    try {
      const rows: tf.Tensor2D[] = [];
      const step = oneCall ? window.length - 1 : 1;
      tf.tidy(() => {
        rows.push(tf.keep(depthForward(model.decoder, window.slice(0, 1), { cache }).logits)); // the prompt, full depth
        for (let t = 1; t < window.length - 1; t += step) {
          const res = depthForward(model.decoder, window.slice(t, Math.min(window.length - 1, t + step)), { cache, routing: exitRouting(model, rule) });
          res.depths.forEach((d) => depthCounts[d - 1]!++);
          rows.push(tf.keep(res.logits));
        }
      });
      const logits = tf.concat(rows, 0); // [T, V]
      tf.dispose(rows);
      nll += targetNll(logits, window.slice(1));
      logits.dispose();
    } finally {
      cache.dispose();
    }
  }
  return { nll, depthCounts };
}
