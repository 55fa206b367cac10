import {
  depthForward,
  expertChoiceRouting,
  routingAgreement,
  thresholdDecisions,
  type RoutingAgreement,
} from '@recur/router';
import { tf } from '@recur/tensor';
import type { LoadedModel } from '../model.js';

/**
 * How often expert-choice's decode-time rule (σ(logit) > threshold of recursion r, calibrated or
 * fixed; causal) makes the same call as training-time top-k (capacity (N_r − r)/N_r of the window, not
 * causal) on the same hidden states: each window runs under top-k routing and, at every recursion r ≥
 * 1, the threshold rule is applied to the same candidates' logits. Summed over windows and recursions.
 */
export function routerAgreement(model: LoadedModel, windows: readonly (readonly number[])[]): RoutingAgreement {
  const router = model.recur?.router;
  if (router?.kind !== 'expert' || !model.routerParams)
    throw new RangeError(`${model.source.path}: agreement is measured for expert-choice MoR models`);
  const totals = { both: 0, thresholdOnly: 0, topKOnly: 0, neither: 0 };
  for (const window of windows) {
    const cache = model.decoder.newDepthCache(router.kvMode);
    try {
      tf.tidy(() => {
        const routing = expertChoiceRouting(model.routerParams!, {
          numRecursions: model.decoder.loops.loops.length,
          mode: 'topK',
          alpha: router.alpha,
        });
        depthForward(model.decoder, window, { cache, routing });
        routing.decisions.forEach((decision, r) => {
          if (r === 0) return; // recursion 0 keeps everyone under either rule
          const keep = thresholdDecisions(
            decision.logits.dataSync(),
            router.thresholds?.[r] ?? router.threshold ?? 0.5,
          );
          const byThreshold = decision.candidates.filter((_, j) => keep[j] === 1);
          const counts = routingAgreement(decision.candidates, byThreshold, decision.selected);
          for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += counts[key];
        });
      });
    } finally {
      cache.dispose();
    }
  }
  const all = totals.both + totals.thresholdOnly + totals.topKOnly + totals.neither;
  return { ...totals, agreement: all === 0 ? 1 : (totals.both + totals.neither) / all };
}
