import type { DepthKvMode } from '@recur/graph';
import {
  balanceBiasKey,
  expertRouterPrefix,
  initScalarRouter,
  initTokenRouter,
  routerTensors,
  type RouterArchitecture,
  type TokenChoiceForm,
} from '@recur/router';
import type { LoadedModel } from '../model.js';
import type { RouterSection } from '../recurConfig.js';

export interface MorModelOptions {
  readonly kind: 'expert' | 'token';
  readonly architecture?: RouterArchitecture;
  /** Expert-choice gate scale α (default 0.1, MoR's value). */
  readonly alpha?: number;
  /** KV mode the router is trained with (default 'recursion-wise', MoR's recursion-wise caching). */
  readonly kvMode?: DepthKvMode;
  /** Decode-time σ threshold of expert-choice routers (default 0.5). */
  readonly threshold?: number;
  /** Token-choice gate form (default 'paper'). */
  readonly tokenForm?: TokenChoiceForm;
  /** Token-choice balancing (default 'loss'); 'loss-free' adds a zero bias tensor [N_r]. */
  readonly balance?: 'loss' | 'loss-free';
  readonly seed?: number;
}

/**
 * A recursive model with fresh Mixture-of-Recursions router weights (Bae et al. 2025, arXiv
 * 2507.10524): one scalar router per recursion (expert-choice) or one d → N_r router (token-choice),
 * N(0, 0.02²). The model's tensors are shared with the input (only the router is new): dispose one of
 * the two, and the router with `routerParams`. Throws a RangeError naming what is wrong for plain
 * models, one loop, or layer orders whose loops are not contiguous (sequence tying).
 */
export function withRouter(model: LoadedModel, options: MorModelOptions): LoadedModel {
  if (!model.recur)
    throw new RangeError(
      `${model.source.path}: --router needs a recursive model (recur convert it, or --from-scratch with --loops N)`,
    );
  let loops: number;
  try {
    loops = model.decoder.loops.loops.length;
  } catch (e) {
    throw new RangeError(
      `${model.source.path}: --router needs the shared block looped as one block (--strategy cycle or middle-cycle), not ${model.recur.strategy} tying (${(e as Error).message})`,
    );
  }
  if (loops < 2) throw new RangeError(`${model.source.path}: --router needs at least 2 loops, the model has ${loops}`);
  const hiddenSize = model.config.hiddenSize;
  const seed = options.seed ?? 0;
  const architecture = options.architecture ?? 'linear';
  const token = options.kind === 'token';
  if (!token && (options.tokenForm !== undefined || options.balance !== undefined))
    throw new RangeError('token form and balancing apply to token-choice routers only');
  const lossFree = token && options.balance === 'loss-free';
  const arrays = token
    ? withBias(initTokenRouter({ hiddenSize, numRecursions: loops, seed }), lossFree ? loops : 0)
    : new Map(
        Array.from({ length: loops }, (_, r) => [
          ...initScalarRouter(expertRouterPrefix(r), { hiddenSize, architecture, seed: seed + 101 * (r + 1) }),
        ]).flat(),
      );
  const router: RouterSection = {
    kind: options.kind,
    architecture,
    alpha: options.alpha ?? 0.1,
    kvMode: options.kvMode ?? 'recursion-wise',
    ...(options.threshold !== undefined && { threshold: options.threshold }),
    ...(token && { tokenForm: options.tokenForm ?? 'paper', balance: options.balance ?? 'loss' }),
  };
  return { ...model, recur: { ...model.recur, router }, routerParams: routerTensors(arrays) };
}

/** The token router's arrays, with a zero loss-free balancing bias [N_r] when `depths` > 0. */
function withBias(
  arrays: Map<string, { shape: number[]; data: Float32Array }>,
  depths: number,
): Map<string, { shape: number[]; data: Float32Array }> {
  if (depths > 0) arrays.set(balanceBiasKey, { shape: [depths], data: new Float32Array(depths) });
  return arrays;
}
