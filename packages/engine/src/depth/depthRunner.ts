import type { DepthKvCache, DepthKvMode } from '@recur/graph';
import { depthForward } from '@recur/router';
import { tf } from '@recur/tensor';
import type { LoadedModel } from '../model.js';
import { exitRouting, type ExitRule } from './exitRule.js';

/** One sequence under per-token depth: the prompt at full depth, every later token routed by `rule`. */
export interface DepthRunner {
  /** Appends `input` and returns the last row's logits and the loops that row ran. */
  next(input: readonly number[]): { logits: Float32Array; depth: number };
  readonly cache: DepthKvCache;
  dispose(): void;
}

export function depthRunner(model: LoadedModel, rule: ExitRule, kvMode: DepthKvMode): DepthRunner {
  exitRouting(model, rule); // refuses a rule the model cannot run (e.g. a router it does not have) before any work
  const cache = model.decoder.newDepthCache(kvMode);
  let prompted = false;
  return {
    cache,
    next(input) {
      const out = tf.tidy(() => {
        const routing = prompted ? exitRouting(model, rule) : undefined;
        const res = depthForward(model.decoder, input, { cache, lastOnly: true, ...(routing && { routing }) });
        return { logits: res.logits.dataSync() as Float32Array, depth: res.depths[input.length - 1]! };
      });
      prompted = true;
      return out;
    },
    dispose: () => cache.dispose(),
  };
}
