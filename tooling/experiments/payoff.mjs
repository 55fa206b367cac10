// pnpm experiment:payoff (issue 15 §4) — does the recursive model pay? stories260K converted by the paper's
// recipe and uptrained in PyTorch — experiment:uptraining's run of that recipe, reused from its cache or trained
// into it (payoffModel.mjs, uptrainingRun.mjs) — served with a calibrated exit rule — confidence exits, or a MoR
// router trained on the uptrained model with Recur's trainer (payoffRouter.mjs) routing every token — by continuous
// depth-wise batching, against the ORIGINAL stories260K served by continuous sequence-wise batching: same engine,
// same requests, all at once and Poisson; with the held-out perplexity of exactly the served configuration; then
// the served depth distribution replayed on the SmolLM-135M shape (payoffServe.mjs).
// Writes payoff.json and (payoffReport.mjs) payoff.md into docs/results, or PAYOFF_OUT.
// Env: PAYOFF_TOKENS (the uptraining run's token budget, default 5e6), PAYOFF_SEED, PAYOFF_UPTRAIN_CACHE
// (experiment:uptraining's cache, default .cache/uptraining), PAYOFF_ROUTER_TOKENS (router training tokens,
// default 51,200), PAYOFF_ROUTERS (router kinds, default expert,token), PAYOFF_CACHE (default .cache/payoff);
// the uptraining data settings are uptrainingSetup.mjs's (UPTRAIN_CORPUS_TOKENS, …, shared with
// experiment:uptraining so the run's cache key means one thing); scoring/serving budget: PAYOFF_WINDOWS,
// PAYOFF_CALIBRATION_WINDOWS, PAYOFF_REQUESTS, PAYOFF_SMOLLM_REQUESTS, PAYOFF_REPEATS, PAYOFF_RULES (comma list,
// fixed:1 and fixed:2 included); `--smoke` (or PAYOFF_SMOKE=1): a tiny end-to-end run (a 2-step uptraining run
// in its own cache, PAYOFF_CACHE/smoke-uptraining, unless PAYOFF_UPTRAIN_CACHE is set).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disposeModel } from '../../packages/engine/dist/index.js';
import { loadModel, trainingData } from '../../packages/engine/dist/node.js';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { cpuSecondsWithChildren, loadWindow, machineDescription } from '../bench/record.mjs';
import { requestsFrom, servingRun } from '../bench/serveRun.mjs';
import { calibratedRule, plainPerplexity, qualityCurve, recipe, recipeModel } from './payoffModel.mjs';
import { renderPayoff } from './payoffReport.mjs';
import { depthBound } from './payoffReportBound.mjs';
import { disposeRouted, routedModel, routerRule } from './payoffRouter.mjs';
import { ruleServing, serveModes, smollmReplay } from './payoffServe.mjs';
import { payoffSettings } from './payoffSettings.mjs';
import { training } from './uptrainingRun.mjs';
import { uptrainingContext } from './uptrainingSetup.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const settings = payoffSettings(root, process.argv.includes('--smoke') || process.env.PAYOFF_SMOKE === '1');
const { smoke, out, seed, tokens, routerTokens, routerKinds, target, kvMode, setup, rules, cache } = settings;
const { uptrainCache, uptrainSettings, folderVariables } = settings;
const corpusFile = `${root}../shared/corpora/tinystories_val/tinystories_val.txt`;

await initBackend({ threads: 1 });
const started = performance.now();
const cpuStart = cpuSecondsWithChildren(); // the sample-corpus and PyTorch children included
/** Wall minutes since the start at the end of each phase (the machine is shared: wall time, not work). */
/** @type {Record<string, number>} */
const phases = {};
const mark = (/** @type {string} */ phase) =>
  (phases[phase] = Number(((performance.now() - started) / 60000).toFixed(2)));
const loadSpan = loadWindow();
const sourcePath = `${root}../shared/models/stories260K/hf`;
const source = await loadModel(sourcePath);
const prepared = await uptrainingContext({ root, cache: uptrainCache, source, sourcePath, ...uptrainSettings });
mark('data');
const trained = await recipeModel({ seed, tokens }, prepared.ctx);
mark('uptraining');
console.log(
  `uptrain | ${trained.run.key}${trained.run.cached ? ' (cached)' : ''} | ${trained.run.trainedTokens} tokens | ${trained.run.tokensPerSecond.toFixed(0)} tok/s`,
);

// Held out: the last 10% of the TinyStories documents (real text nothing here trains on).
const data = await trainingData({
  textFile: corpusFile,
  tokenizer: source.tokenizer,
  tokenizerIdentity: 'stories260K',
  cacheDir: `${cache}/tokens`,
  seqLen: 128,
  batchSize: 8,
  valFraction: 0.1,
  seed: 0,
});
const scored = data.validation.slice(0, setup.windows);
const calibration = data.validation.slice(setup.windows, setup.windows + setup.calibrationWindows);
const sourcePpl = plainPerplexity(source, scored);
const sourceCalibrationPpl = plainPerplexity(source, calibration);
const routed = [];
for (const kind of routerKinds)
  routed.push(
    await routedModel(trained.model, source, {
      kind,
      textFile: prepared.corpus,
      tokens: routerTokens,
      batch: setup.batch,
      seqLen: setup.seqLen,
      // named by the run it trains on, so a router is never reused over another uptrained model
      out: `${cache}/router-${kind}-${routerTokens}-b${setup.batch}x${setup.seqLen}-on-${trained.run.key}`,
      seed,
      calibration,
    }),
  );
mark('routers');
const curve = qualityCurve(
  [
    ...rules.map((rule) => ({ rule, exitRule: rule, model: trained.model, kvMode })),
    ...routed.map((r) => ({ rule: routerRule(r.kind), exitRule: 'router', model: r.model, kvMode: r.kvMode })),
  ],
  scored,
  calibration,
);
mark('curve');
const chosen = calibratedRule(curve, sourceCalibrationPpl, target.perplexityRatio);

const text = readFileSync(corpusFile, 'utf8');
const requests = requestsFrom(text, source.tokenizer, setup.requests, 5);
const runMode = servingRun({ maxRowsPerStep: 32, tokenBudgetPerStep: 256, prefillChunk: 32 });
const served = await serveModes(
  runMode,
  [
    {
      name: 'original stories260K, continuous sequence-wise',
      rule: null,
      model: source,
      options: { mode: 'continuous-sequence' },
    },
    ...rules.map((rule) => ({
      name: `recursive, CDB, ${rule}`,
      rule,
      model: trained.model,
      options: ruleServing(rule, kvMode),
    })),
    ...routed.map((r) => ({
      name: `recursive + MoR ${r.kind} router, CDB`,
      rule: routerRule(r.kind),
      model: r.model,
      // every position, prompt and generated, routed as trained, in the KV mode it was scored with
      options: /** @type {Partial<import('../../packages/engine/dist/index.js').ServingEngineOptions>} */ ({
        mode: 'continuous-depth',
        kvMode: r.kvMode,
      }),
    })),
  ],
  requests,
  setup.rates,
  setup.repeats,
  'stories',
);
mark('serving');
const headlineServed = served.find((r) => r.rule === chosen.rule && r.rate === 'all-at-once');
if (!headlineServed) throw new Error(`no all-at-once run of ${chosen.rule}`);
const smollm = await smollmReplay({
  runMode,
  tokenizer: source.tokenizer,
  // smoke: one short request, enough to run every mode once
  requests: requestsFrom(text, source.tokenizer, setup.smollmRequests, 7).map((r) =>
    smoke ? { ...r, promptIds: r.promptIds.slice(0, 8), maxNewTokens: 2 } : r,
  ),
  replays: replayedRules(),
  kvMode,
});
mark('smollm');

const baseline = /** @type {import('./payoffServe.mjs').ServedRow} */ (
  served.find((r) => r.rule === null && r.rate === 'all-at-once')
);
const point = /** @type {import('./payoffModel.mjs').CurvePoint} */ (curve.find((p) => p.rule === chosen.rule));
const results = {
  model: `stories260K → middle-cycle × ${recipe.loops}, ${recipe.init} init, rank-${recipe.rank} SVD LoRA, uptrained ${trained.run.trainedTokens.toLocaleString('en-US')} tokens in PyTorch${chosen.rule.startsWith('router:') ? `, + MoR ${chosen.rule.slice('router:'.length)} router trained ${routerTokens.toLocaleString('en-US')} tokens` : ''}`,
  exitRule: chosen.rule,
  exitRuleChoice: chosen.why,
  kvMode,
  speedupTokensPerCpuSecond: headlineServed.tokensPerCpuSecond / baseline.tokensPerCpuSecond,
  perplexityRatio: point.perplexity / sourcePpl,
  // the most depth alone allows at the headline's served depth (payoffReportBound.mjs)
  depthBound: depthBound(trained.layers, headlineServed.averageDepth),
  target,
  smoke,
  budget: {
    tokens: trained.run.trainedTokens,
    requestedTokens: tokens,
    issueTokens: 5_000_000,
    routerTokens,
    steps: trained.run.steps,
  },
  uptraining: uptrainingRecord(),
  setup: { ...setup, rates: setup.rates.map((x) => (Number.isFinite(x) ? x : 'all-at-once')), rules },
  heldOut: {
    windows: scored.length,
    calibrationWindows: calibration.length,
    tokens: scored.reduce((n, w) => n + w.length - 1, 0),
  },
  routers: routed.map(({ model: _model, ...rest }) => rest),
  sourcePerplexity: sourcePpl,
  sourceCalibrationPerplexity: sourceCalibrationPpl,
  curve,
  served,
  smollm,
  requests: { count: requests.length, seed: 5, newTokens: requests.reduce((n, r) => n + r.maxNewTokens, 0) },
  seeds: {
    corpus: uptrainSettings.corpusSeed,
    training: seed,
    requests: 5,
    smollmRequests: 7,
    smollmReplay: 29,
    smollmWeights: 1,
  },
  commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(),
  date: new Date().toISOString(),
  machine: machineDescription(),
  minutes: (performance.now() - started) / 60000,
  cpuMinutes: (cpuSecondsWithChildren() - cpuStart) / 60,
  command: `${Object.entries(process.env)
    .filter(([k]) => (k.startsWith('PAYOFF_') || k.startsWith('UPTRAIN_')) && !folderVariables.includes(k))
    .map(([k, v]) => `${k}=${v} `)
    .join('')}node tooling/experiments/payoff.mjs${smoke ? ' --smoke' : ''}`,
  phases,
  loadAverage: loadSpan(),
};
for (const r of routed) disposeRouted(r);
disposeModel(trained.model);
disposeModel(source);
mkdirSync(out, { recursive: true });
writeAtomic(`${out}/payoff.json`, `${JSON.stringify(results, null, 1)}\n`);
writeAtomic(`${out}/payoff.md`, renderPayoff(results));
console.log(`wrote ${out}/payoff.json and payoff.md`);

/** The uptraining run the model is, as the doc states it: its key, budget, cost and settings (no machine paths). */
function uptrainingRecord() {
  const { run } = trained;
  return {
    key: run.key,
    config: run.config,
    cached: run.cached,
    trainedTokens: run.trainedTokens,
    steps: run.steps,
    seconds: run.seconds,
    cpuSeconds: run.cpuSeconds ?? null, // runs from before the field was recorded have none
    tokensPerSecond: run.tokensPerSecond,
    loadAverage: run.loadAverage,
    perplexityPerLoop: run.perplexityPerLoop,
    training: run.training ?? training, // runs from before result.json recorded it trained with today's settings
    python: prepared.about.python,
    blas: prepared.about.blas,
    cache: relative(root, uptrainCache),
    corpus: {
      file: relative(root, prepared.corpus),
      tokens: uptrainSettings.corpusTokens,
      seed: uptrainSettings.corpusSeed,
    },
    // what its per-loop perplexity was scored on (the start of heldOutFile); runs from before it was recorded have none
    heldOut: run.heldOut ?? null,
    heldOutFile: prepared.about.heldOut.file,
    layers: trained.layers,
  };
}

/**
 * Whose served depths SmolLM replays: the headline rule's when it is a confidence or router rule (a fixed depth
 * is served there as such), and the shallowest confidence rule's, so the replay always mixes depths.
 */
function replayedRules() {
  const mixes = (/** @type {string | null | undefined} */ rule) =>
    !!rule?.startsWith('maxprob') || !!rule?.startsWith('router:');
  const confidence = served.filter((r) => r.rate === 'all-at-once' && r.rule?.startsWith('maxprob'));
  const shallowest = [...confidence].sort((a, b) => a.averageDepth - b.averageDepth)[0];
  const picked = [...new Set([headlineServed, shallowest])].filter((r) => mixes(r?.rule));
  return picked.map((r) => ({
    rule: /** @type {string} */ (r?.rule),
    continueShare: Math.min(1, Math.max(0, (r?.averageDepth ?? 1) - 1)),
  }));
}

/** @param {string} file @param {string} body */
function writeAtomic(file, body) {
  writeFileSync(`${file}.tmp`, body);
  renameSync(`${file}.tmp`, file);
}
