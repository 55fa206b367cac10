import {
  calibrateThresholds,
  depthForward,
  expertChoiceRouting,
  type CalibrationSample,
  type LoopRouting,
} from '@recur/router';
import { tf } from '@recur/tensor';
import type { LoadedModel } from '../model.js';
import type { RouterSection } from '../recurConfig.js';

export interface CalibrateRouterOptions {
  /**
   * Held-out token windows; each is routed as eval and generation
   * route it: every input token, the first included, in one call.
   */
  readonly windows: readonly ArrayLike<number>[];
  /** Called after each window of each recursion (N − 1 passes over the windows in all). */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Per-recursion σ thresholds for an expert-choice MoR model, calibrated on held-out windows so the
 * causal threshold rule keeps the trained capacity (N − r)/N of the routed tokens at each recursion
 * (see calibrateThresholds in @recur/router). Recursion r's pass runs the threshold forward with
 * thresholds 1..r−1 already calibrated, in the router's KV mode, and stops at loop r: the router
 * logits of the tokens that reach it are all it needs.
 */
export function calibrateRouterThresholds(model: LoadedModel, options: CalibrateRouterOptions): number[] {
  const router = model.recur?.router;
  if (router?.kind !== 'expert' || !model.routerParams)
    throw new RangeError(`${model.source.path}: thresholds are calibrated for expert-choice MoR models`);
  const n = model.decoder.loops.loops.length;
  const windows = options.windows.filter((w) => w.length >= 2); // a routed token and its target
  let done = 0;
  return calibrateThresholds(n, (recursion, thresholds) => {
    const logits: number[] = [];
    let tokens = 0;
    for (const window of windows) {
      tokens += window.length - 1;
      logits.push(...reachingLogits(model, router, window, recursion, thresholds));
      options.onProgress?.(++done, (n - 1) * windows.length);
    }
    return { logits, tokens } satisfies CalibrationSample;
  });
}

/** Recursion r's router logits of the window's routed tokens that reach it under `thresholds`. */
function reachingLogits(
  model: LoadedModel,
  router: RouterSection,
  window: ArrayLike<number>,
  recursion: number,
  thresholds: readonly number[],
): Float32Array {
  const ids = Array.from(window);
  const cache = model.decoder.newDepthCache(router.kvMode);
  try {
    return tf.tidy(() => {
      const inner = expertChoiceRouting(model.routerParams!, {
        numRecursions: model.decoder.loops.loops.length,
        mode: 'threshold',
        alpha: router.alpha,
        thresholds,
      });
      let seen = new Float32Array(0);
      const routing: LoopRouting = {
        update: inner.update,
        choose(r, h, candidates, probe) {
          const choice = inner.choose(r, h, candidates, probe);
          if (r < recursion) return choice;
          seen = Float32Array.from(inner.decisions[r]!.logits.dataSync());
          return { selected: new Int32Array(0) }; // nobody runs loop r: the pass ends here
        },
      };
      depthForward(model.decoder, ids.slice(0, -1), { cache, routing }); // the last token is only a target
      return seen;
    });
  } finally {
    cache.dispose();
  }
}

/** How an expert-choice model's decode threshold is set after training: calibrated per recursion, or one fixed σ. */
export type RouterThresholdChoice = 'calibrated' | number;

/**
 * The model with its router's decode rule set: 'calibrated' stores `thresholds` found on `windows`
 * (and drops a fixed `threshold`), a number stores that `threshold` (and drops calibrated ones).
 * Shares the model's tensors.
 */
export function withRouterThreshold(
  model: LoadedModel,
  choice: RouterThresholdChoice,
  options: CalibrateRouterOptions,
): LoadedModel {
  const recur = model.recur;
  const router = recur?.router;
  if (!recur || router?.kind !== 'expert')
    throw new RangeError(`${model.source.path}: a router threshold applies to expert-choice MoR models`);
  const { threshold: _fixed, thresholds: _calibrated, ...rest } = router;
  const rule =
    choice === 'calibrated' ? { thresholds: calibrateRouterThresholds(model, options) } : { threshold: choice };
  return { ...model, recur: { ...recur, router: { ...rest, ...rule } } };
}
