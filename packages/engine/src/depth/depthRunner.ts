import type { DepthKvMode, FastDecoder } from '@recur/graph';
import { depthForward } from '@recur/router';
import { tf } from '@recur/tensor';
import { fastDecoderFor } from '../fast.js';
import type { LoadedModel } from '../model.js';
import { depthRouting, exitRouting, type ExitRule } from './exitRule.js';

/**
 * One sequence under per-token depth. Router rules route every token of every call, the prompt
 * included (the prefill saving Mixture-of-Recursions claims); confidence rules (maxprob, entropy,
 * fixed) run the prompt at full depth and route the tokens after it.
 */
export interface DepthRunner {
  /** Appends `input` and returns the last row's logits and the loops that row ran. */
  next(input: readonly number[]): { logits: Float32Array; depth: number };
  /** Which executor runs it: the fused kernels or tfjs. */
  readonly path: 'fast' | 'tfjs';
  dispose(): void;
}

/** The tfjs executor: depthForward over a DepthKvCache. */
export function depthRunner(model: LoadedModel, rule: ExitRule, kvMode: DepthKvMode): DepthRunner {
  exitRouting(model, rule); // refuses a rule the model cannot run (e.g. a router it does not have) before any work
  const cache = model.decoder.newDepthCache(kvMode);
  let prompted = rule.kind === 'router';
  return {
    path: 'tfjs',
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

/**
 * The fused executor for a router rule (FastDecoder.forwardDepth), or undefined when the model has no
 * fast decoder or no fused loop structure matching the tfjs one (then the tfjs runner serves).
 */
export async function fastRouterRunner(
  model: LoadedModel,
  rule: ExitRule,
  kvMode: DepthKvMode,
  capacity: number,
): Promise<DepthRunner | undefined> {
  if (rule.kind !== 'router') return undefined;
  const routing = depthRouting(model, rule); // refuses a model without a router before any work
  const fast = await fusedLoops(model);
  if (!fast) return undefined;
  const cache = fast.newCache(capacity, kvMode);
  return {
    path: 'fast',
    next(input) {
      const res = fast.forwardDepth(input, { cache, routing, kvMode, lastOnly: true });
      return { logits: res.logits, depth: res.depths[input.length - 1]! };
    },
    dispose: () => cache.dispose(),
  };
}

/** The model's FastDecoder when its loop structure is the tfjs decoder's, else undefined. */
export async function fusedLoops(model: LoadedModel): Promise<FastDecoder | undefined> {
  const { fast } = await fastDecoderFor(model);
  if (!fast) return undefined;
  try {
    return fast.structure.loops.length === model.decoder.loops.loops.length ? fast : undefined;
  } catch {
    return undefined; // orders that are not one looped block have no fused per-loop steps
  }
}
