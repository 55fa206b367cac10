import { rowRouter, type DepthRouting, type ScalarRouterWeights } from '@recur/graph';
import { tf } from '@recur/tensor';
import { expertRouterPrefix } from '../expert/expertChoice.js';
import { balanceBiasKey, tokenRouterKey } from '../token/tokenChoice.js';
import type { TokenChoiceForm } from './routings.js';
import type { LoopChoice, LoopRouting } from './depthForward.js';

/**
 * The tfjs executor's routing for a routing description: the same row-wise decisions
 * (@recur/graph's rowRouter) the fused executor runs, on the call's states read back, so both
 * executors give the same depths. Inference only — gates are constants, not differentiable; training
 * keeps expertChoiceRouting / tokenChoiceRouting (top-k, gradients through the gates). Make one per call.
 */
export function routingFor(routing: DepthRouting, hiddenSize: number): LoopRouting {
  const router = rowRouter(routing, hiddenSize);
  return {
    update: router.update,
    choose(r, h, candidates): LoopChoice {
      const { selected, gates } = router.choose(r, h.dataSync(), candidates);
      return { selected, gate: tf.tensor1d(gates) };
    },
    finalGate: () => tf.tensor1d(router.finalGates()),
  };
}

export interface DescribeRoutingOptions {
  readonly kind: 'expert' | 'token';
  readonly numRecursions: number;
  /** Expert choice: gate scale α. */
  readonly alpha?: number;
  /** Expert choice: σ cut per recursion, length N (index 0 unused). */
  readonly thresholds?: readonly number[];
  /** Token choice: add the saved loss-free balance bias to the probabilities. */
  readonly useBias?: boolean;
  readonly form?: TokenChoiceForm;
}

/**
 * A routing description from router weights as checkpoints key them (`mor.routers.{r}.*`,
 * `mor.token_router.weight`, `mor.token_router.balance_bias`): plain arrays, copied once.
 * RangeError naming the tensor that is missing or has the wrong shape.
 */
export function describeRouting(params: ReadonlyMap<string, tf.Tensor>, options: DescribeRoutingOptions): DepthRouting {
  const n = options.numRecursions;
  const read = (key: string, rank?: number): Float32Array => {
    const t = params.get(key);
    if (t === undefined || (rank !== undefined && t.rank !== rank))
      throw new RangeError(
        `router: no ${rank ? `rank-${rank} ` : ''}tensor '${key}' (have ${[...params.keys()].join(', ') || 'none'})`,
      );
    return Float32Array.from(t.dataSync() as Float32Array);
  };
  if (options.kind === 'token') {
    return {
      kind: 'token',
      weight: read(tokenRouterKey, 2),
      numRecursions: n,
      form: options.form ?? 'paper',
      ...(options.useBias && { bias: read(balanceBiasKey, 1) }),
    };
  }
  const routers = Array.from({ length: n }, (_, r): ScalarRouterWeights => {
    const prefix = expertRouterPrefix(r);
    if (params.has(`${prefix}.weight`)) return { kind: 'linear', weight: read(`${prefix}.weight`) };
    return {
      kind: 'mlp',
      fc1: read(`${prefix}.fc1.weight`),
      fc1Bias: read(`${prefix}.fc1.bias`),
      fc2: read(`${prefix}.fc2.weight`),
    };
  });
  const thresholds = options.thresholds ?? Array.from({ length: n }, () => 0.5);
  return { kind: 'expert', alpha: options.alpha ?? 0.1, thresholds, routers };
}
