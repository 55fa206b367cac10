// The settings of `pnpm experiment:payoff` (payoff.mjs) from the environment, checked: the uptraining run's budget
// and caches, the routers', and the scoring and serving budget (smaller in `--smoke`). Every value lands in payoff.json.
import { training } from './uptrainingRun.mjs';
import { uptrainingEnv } from './uptrainingSetup.mjs';

/** @param {string} root the repository, with a trailing slash @param {boolean} smoke */
export function payoffSettings(root, smoke) {
  const out = process.env.PAYOFF_OUT ?? `${root}docs/results`;
  const seed = Number(process.env.PAYOFF_SEED ?? 0);
  const step = training.batch * training.seq;
  // smoke: a 2-step uptraining run
  const tokens = Number(process.env.PAYOFF_TOKENS ?? (smoke ? 2 * step : 5_000_000));
  if (!Number.isInteger(tokens) || tokens < step)
    throw new RangeError(
      `PAYOFF_TOKENS=${tokens}: a whole number ≥ ${step} (one uptraining step, ${training.batch} × ${training.seq})`,
    );
  if (process.env.PAYOFF_CORPUS_TOKENS !== undefined)
    throw new RangeError(
      "PAYOFF_CORPUS_TOKENS is gone: the payoff trains on experiment:uptraining's corpus (UPTRAIN_CORPUS_TOKENS)",
    );
  const routerTokens = Number(process.env.PAYOFF_ROUTER_TOKENS ?? (smoke ? 1024 : 51_200));
  if (!Number.isInteger(routerTokens) || routerTokens < 1024)
    throw new RangeError(`PAYOFF_ROUTER_TOKENS=${routerTokens}: a whole number ≥ 1024`);
  const routerKinds = /** @type {import('./payoffRouter.mjs').RouterKind[]} */ (
    (process.env.PAYOFF_ROUTERS ?? 'expert,token').split(',').filter((k) => k !== '')
  );
  for (const kind of routerKinds)
    if (kind !== 'expert' && kind !== 'token') throw new RangeError(`PAYOFF_ROUTERS: unknown router kind "${kind}"`);
  const target = { speedup: 2, perplexityRatio: 1.05 };
  /** Variables that name folders: left out of the command the doc prints (results docs name no machine paths). */
  const folderVariables = ['PAYOFF_OUT', 'PAYOFF_CACHE', 'PAYOFF_UPTRAIN_CACHE', 'UPTRAIN_BLAS_DIR'];
  const kvMode = 'copy'; // the serving engine's default for confidence exits; the curve is scored under it too
  const defaults = smoke
    ? {
        batch: 4,
        seqLen: 64,
        windows: 2,
        calibrationWindows: 2,
        requests: 3,
        smollmRequests: 1,
        repeats: 1,
        rates: [Infinity],
      }
    : {
        batch: 8,
        seqLen: 128,
        windows: 16,
        calibrationWindows: 8,
        requests: 24,
        smollmRequests: 8,
        repeats: 3,
        rates: [Infinity, 40],
      };
  // The scoring and serving budget may shrink on a loaded machine; every value lands in payoff.json.
  const setup = {
    ...defaults,
    windows: envCount('PAYOFF_WINDOWS', defaults.windows),
    calibrationWindows: envCount('PAYOFF_CALIBRATION_WINDOWS', defaults.calibrationWindows),
    requests: envCount('PAYOFF_REQUESTS', defaults.requests),
    smollmRequests: envCount('PAYOFF_SMOLLM_REQUESTS', defaults.smollmRequests),
    repeats: envCount('PAYOFF_REPEATS', defaults.repeats),
  };
  const rules =
    process.env.PAYOFF_RULES?.split(',') ??
    (smoke
      ? ['fixed:1', 'fixed:2', 'maxprob:0.5']
      : ['fixed:1', 'maxprob:0.5', 'maxprob:0.7', 'maxprob:0.8', 'maxprob:0.9', 'maxprob:0.95', 'fixed:2']);
  for (const rule of ['fixed:1', 'fixed:2'])
    if (!rules.includes(rule)) throw new RangeError(`PAYOFF_RULES must include ${rule} (the report reads both)`);
  const cache = process.env.PAYOFF_CACHE ?? `${root}.cache/payoff`;
  const uptrainCache =
    process.env.PAYOFF_UPTRAIN_CACHE ?? (smoke ? `${cache}/smoke-uptraining` : `${root}.cache/uptraining`);
  // smoke: a corpus of a few documents and a short held-out slice, so the run's own scoring stays quick
  const uptrainSettings = smoke ? { ...uptrainingEnv(), corpusTokens: 1024, heldOutBytes: 2000 } : uptrainingEnv();
  return {
    smoke,
    out,
    seed,
    tokens,
    routerTokens,
    routerKinds,
    target,
    folderVariables,
    kvMode,
    setup,
    rules,
    cache,
    uptrainCache,
    uptrainSettings,
  };
}

/** A positive whole number from the environment, or `fallback`. @param {string} name @param {number} fallback */
function envCount(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name}=${process.env[name]}: a whole number ≥ 1`);
  return value;
}
