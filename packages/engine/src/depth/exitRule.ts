import type { DepthKvMode, DepthRouting } from '@recur/graph';
import { describeRouting, earlyExitRouting, routingFor, type ExitPolicy, type LoopRouting } from '@recur/router';
import type { LoadedModel } from '../model.js';
import type { RouterSection } from '../recurConfig.js';

/** How a generated token's depth is decided at decode time: a confidence policy or the model's MoR router. */
export type ExitRule =
  | { readonly kind: 'policy'; readonly policy: ExitPolicy }
  | { readonly kind: 'router'; readonly threshold?: number };

/**
 * 'maxprob:0.9' | 'entropy:1.5' | 'fixed:2' | 'router' |
 * 'router:0.5' → ExitRule (RangeError naming the text otherwise).
 */
export function parseExitRule(text: string): ExitRule {
  const [name, arg, ...rest] = text.trim().toLowerCase().split(':');
  const value = arg === undefined || arg === '' ? undefined : Number(arg);
  const bad = (why: string): never => {
    throw new RangeError(`exit rule "${text}": ${why} (expected maxprob:P, entropy:H, fixed:D or router[:T])`);
  };
  if (rest.length > 0 || (value !== undefined && !Number.isFinite(value))) bad('not a rule');
  switch (name) {
    case 'maxprob':
      if (value === undefined || value <= 0 || value > 1) bad('P must be in (0, 1]');
      return { kind: 'policy', policy: { kind: 'maxProb', threshold: value! } };
    case 'entropy':
      if (value === undefined || value < 0) bad('H must be ≥ 0 nats');
      return { kind: 'policy', policy: { kind: 'entropy', threshold: value! } };
    case 'fixed':
      if (value === undefined || !Number.isInteger(value) || value < 1) bad('D must be a whole number of loops ≥ 1');
      return { kind: 'policy', policy: { kind: 'fixed', depth: value! } };
    case 'router':
      if (value !== undefined && (value <= 0 || value >= 1)) bad('T must be in (0, 1)');
      return { kind: 'router', ...(value !== undefined && { threshold: value }) };
    default:
      return bad('unknown rule');
  }
}

/**
 * The decode-time routing of `rule` for `model` on the tfjs executor (router rules need a MoR model).
 * Router rules run from the model's routing description (see depthRouting), as the fused executor does.
 */
export function exitRouting(model: LoadedModel, rule: ExitRule): LoopRouting {
  if (rule.kind === 'policy') {
    checkExitDepth(rule.policy, model.decoder.loops.loops.length);
    return earlyExitRouting(rule.policy);
  }
  return routingFor(depthRouting(model, rule), model.config.hiddenSize);
}

/**
 * The routing description of a router model under `rule`: its router weights as plain arrays, the
 * gate scale, per-recursion thresholds `router.thresholds[r] ?? rule.threshold ?? router.threshold ?? 0.5`,
 * the token-choice form and the loss-free bias. Both executors run it.
 */
export function depthRouting(model: LoadedModel, rule: Extract<ExitRule, { kind: 'router' }>): DepthRouting {
  const router = model.recur?.router;
  if (!router || !model.routerParams)
    throw new RangeError(
      `${model.source.path}: --exit router needs a model trained with a router (recur train --router)`,
    );
  const numRecursions = model.decoder.loops.loops.length;
  if (router.kind === 'token') {
    return describeRouting(model.routerParams, {
      kind: 'token',
      numRecursions,
      form: router.tokenForm ?? 'gated-every-loop',
      useBias: router.balance === 'loss-free',
    });
  }
  const chosen = expertThresholds(router, rule);
  const thresholds = Array.from({ length: numRecursions }, (_, r) => chosen.thresholds?.[r] ?? chosen.threshold);
  return describeRouting(model.routerParams, { kind: 'expert', numRecursions, alpha: router.alpha, thresholds });
}

/**
 * The σ threshold of each recursion, in this order of precedence: an explicit `--exit router:T` (one T
 * for every recursion: the user asked for it), the router's calibrated `thresholds[r]`, its fixed
 * `threshold`, 0.5 (what the selection BCE loss trains the router's σ towards).
 */
export function expertThresholds(
  router: RouterSection,
  rule: Extract<ExitRule, { kind: 'router' }>,
): { threshold: number; thresholds?: readonly number[] } {
  if (rule.threshold !== undefined) return { threshold: rule.threshold };
  return { threshold: router.threshold ?? 0.5, ...(router.thresholds && { thresholds: router.thresholds }) };
}

/**
 * A rule on a one-loop model, or a fixed depth the model cannot
 * reach, is refused, not silently run at the model's depth.
 */
export function checkExitDepth(policy: ExitPolicy, loops: number): void {
  // One loop leaves nothing to choose: a rule there would be accepted and silently ignored.
  if (loops < 2)
    throw new RangeError(
      'an exit rule needs a recursive model that runs at least 2 loops; this one runs 1 loop (recur convert it first)',
    );
  if (policy.kind === 'fixed' && policy.depth > loops) {
    throw new RangeError(`exit rule fixed:${policy.depth} exceeds the model's ${loops} loop${loops === 1 ? '' : 's'}`);
  }
}

/** KV mode a rule runs with unless told otherwise: what a router was trained with; 'copy' for early exit. */
export function defaultKvMode(model: LoadedModel, rule: ExitRule | undefined): DepthKvMode {
  return rule?.kind === 'router' ? (model.recur?.router?.kvMode ?? 'recursion-wise') : 'copy';
}
