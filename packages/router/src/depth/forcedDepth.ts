import { tf } from '@recur/tensor';
import { expertRouterPrefix } from '../expert/expertChoice.js';
import { scalarRouterLogits } from '../expert/routerWeights.js';
import { routeTokenChoice } from '../token/tokenChoice.js';
import type { LoopChoice, LoopRouting } from './depthForward.js';
import type { TokenChoiceForm } from './routings.js';

/** Rows that run loop r when every row runs exactly `depth` loops. */
const forced = (r: number, depth: number, candidates: Int32Array): Int32Array =>
  r < depth ? candidates : new Int32Array(0);

function checkDepth(depth: number, numRecursions: number): void {
  if (!Number.isInteger(depth) || depth < 1 || depth > numRecursions)
    throw new RangeError(`forced depth ${depth} outside 1..${numRecursions}`);
}

/**
 * Expert-choice MoR with its selection overridden: every token runs exactly `depth` loops, each with
 * its gated update h ← h + α·σ(router_r(h))·Block(h) — the function the model computes for a token
 * its router sent that deep (MoR, Bae et al. 2025, arXiv 2507.10524, eq. 1). Row-wise, hence causal.
 */
export function expertForcedDepth(
  params: ReadonlyMap<string, tf.Tensor>,
  options: { readonly depth: number; readonly numRecursions: number; readonly alpha: number },
): LoopRouting {
  checkDepth(options.depth, options.numRecursions);
  return {
    update: 'gated',
    choose(r, h, candidates): LoopChoice {
      const selected = forced(r, options.depth, candidates);
      if (selected.length === 0) return { selected };
      const rows = tf.gather(h, tf.tensor1d(selected, 'int32')) as tf.Tensor2D; // [k, d]
      const gate = tf.mul(
        tf.sigmoid(scalarRouterLogits(params, expertRouterPrefix(r), rows)),
        options.alpha,
      ) as tf.Tensor1D; // [k]
      return { selected, gate };
    },
  };
}

/**
 * Token-choice MoR with the chosen depth overridden: every token runs `depth` loops gated by the
 * router's probability of that depth (its form's gate: once at the end for 'paper', h₀ + p·f^d(h₀);
 * at each loop for 'gated-every-loop'). The balancing bias only steers the choice, so it plays no part.
 */
export function tokenForcedDepth(
  params: ReadonlyMap<string, tf.Tensor>,
  options: { readonly depth: number; readonly numRecursions: number; readonly form: TokenChoiceForm },
): LoopRouting {
  checkDepth(options.depth, options.numRecursions);
  let gate: tf.Tensor1D | undefined; // [T]: p(depth) of every row, set before loop 0
  const everyLoop = options.form === 'gated-every-loop';
  return {
    update: everyLoop ? 'gated' : 'gated-once',
    choose(r, h, candidates): LoopChoice {
      if (r === 0) {
        const { probs } = routeTokenChoice(params, h);
        gate = tf.reshape(tf.slice(probs, [0, options.depth - 1], [-1, 1]), [h.shape[0]]) as tf.Tensor1D; // [T]
      }
      const selected = forced(r, options.depth, candidates);
      if (!everyLoop || selected.length === 0) return { selected };
      return { selected, gate: tf.gather(gate!, tf.tensor1d(selected, 'int32')) as tf.Tensor1D }; // [k]
    },
    finalGate: () => gate!,
  };
}
