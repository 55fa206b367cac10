import type { DepthKvMode, FastDecoder } from '@recur/graph';
import { depthForward } from '@recur/router';
import { tf } from '@recur/tensor';
import type { LoadedModel } from '../model.js';
import { targetNll } from '../perplexity.js';
import { defaultKvMode, depthRouting, exitRouting, type ExitRule } from './exitRule.js';
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
  /** Score a router rule on these fused kernels (see fusedLoops) instead of tfjs. */
  readonly fast?: FastDecoder;
}

export interface DepthEvaluation {
  /**
   * Perplexity when every token exits after `depth` loops; for router models, when every token is forced
   * to run exactly `depth` loops with the router's gated updates (routerPerLoop). Empty with perLoop: false.
   */
  readonly perLoop: readonly { readonly depth: number; readonly perplexity: number }[];
  /**
   * Under `rule`: perplexity, mean loops of the routed positions (router rules: every
   * input token; confidence rules: all but each window's first) and their histogram.
   */
  readonly policy?: {
    readonly perplexity: number;
    readonly averageDepth: number;
    readonly depthCounts: readonly number[];
  };
  readonly tokens: number;
  /** Which executor scored the rule: the fused kernels (router rules with `fast`) or tfjs. */
  readonly path: 'fast' | 'tfjs';
}

/**
 * Perplexity at each exit depth and under a decode-time rule. Router rules route every token of a
 * window, its first included (as generation routes prompts); under confidence rules a window's first
 * token is its prompt (full depth) and each later token is routed as generation would. Rules that read only a
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
  const perLoop = !wantPerLoop
    ? []
    : model.recur?.router
      ? routerPerLoop(model, options.windows, () => options.onProgress?.(++done, total))
      : Array.from({ length: n }, (_, d) => {
          const rule: ExitRule = { kind: 'policy', policy: { kind: 'fixed', depth: d + 1 } };
          const { nll } = scoreAll(model, options.windows, rule, 'copy');
          options.onProgress?.(++done, total);
          return { depth: d + 1, perplexity: Math.exp(nll / tokens) };
        });
  if (!options.rule) return { perLoop, tokens, path: 'tfjs' };
  const kvMode = options.kvMode ?? defaultKvMode(model, options.rule);
  const rule = options.rule;
  const onFast = rule.kind === 'router' && options.fast !== undefined;
  const scored = onFast
    ? scoreFast(model, options.fast!, options.windows, rule, kvMode)
    : scoreAll(model, options.windows, rule, kvMode);
  options.onProgress?.(++done, total);
  const routed = scored.depthCounts.reduce((a, b) => a + b, 0);
  const averageDepth = scored.depthCounts.reduce((sum, count, d) => sum + count * (d + 1), 0) / Math.max(1, routed);
  return {
    perLoop,
    policy: { perplexity: Math.exp(scored.nll / tokens), averageDepth, depthCounts: scored.depthCounts },
    tokens,
    path: onFast ? 'fast' : 'tfjs',
  };
}

/** A router rule on the fused kernels: each window's inputs in one routed forwardDepth call. */
function scoreFast(
  model: LoadedModel,
  fast: FastDecoder,
  windows: EvaluateDepthsOptions['windows'],
  rule: Extract<ExitRule, { kind: 'router' }>,
  kvMode: DepthKvMode,
) {
  const routing = depthRouting(model, rule);
  const depthCounts = new Array<number>(model.decoder.loops.loops.length).fill(0);
  let nll = 0;
  for (const window of windows) {
    if (window.length < 2) continue;
    const cache = fast.newCache(window.length, kvMode);
    try {
      const res = fast.forwardDepth(window.slice(0, -1), { cache, routing, kvMode });
      res.depths.forEach((d) => depthCounts[d - 1]!++);
      const logits = tf.tensor2d(res.logits, [window.length - 1, model.config.vocabSize]); // [T, V]
      nll += targetNll(logits, window.slice(1));
      logits.dispose();
    } finally {
      cache.dispose();
    }
  }
  return { nll, depthCounts };
}

function scoreAll(model: LoadedModel, windows: EvaluateDepthsOptions['windows'], rule: ExitRule, kvMode: DepthKvMode) {
  const n = model.decoder.loops.loops.length;
  const depthCounts = new Array<number>(n).fill(0);
  const oneCall =
    rule.kind === 'router' ||
    (rule.kind === 'policy' && rule.policy.kind === 'fixed') ||
    model.decoder.loops.epilogue.length === 0;
  let nll = 0;
  for (const window of windows) {
    if (window.length < 2) continue;
    const cache = model.decoder.newDepthCache(kvMode);
    try {
      const rows: tf.Tensor2D[] = [];
      const step = oneCall ? window.length - 1 : 1;
      tf.tidy(() => {
        const first = rule.kind === 'router' ? 0 : 1; // router rules route the first token too
        // the prompt, full depth
        if (first === 1) rows.push(tf.keep(depthForward(model.decoder, window.slice(0, 1), { cache }).logits));
        for (let t = first; t < window.length - 1; t += step) {
          const res = depthForward(model.decoder, window.slice(t, Math.min(window.length - 1, t + step)), {
            cache,
            routing: exitRouting(model, rule),
          });
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
