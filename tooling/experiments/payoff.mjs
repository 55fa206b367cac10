// pnpm experiment:payoff (issue 15 §4) — does the recursive model pay? stories260K converted by the paper's
// recipe and uptrained (payoffModel.mjs), served with a calibrated exit rule — confidence exits, or a MoR router
// trained on the uptrained model (payoffRouter.mjs) routing every token — by continuous depth-wise batching, against the ORIGINAL stories260K served by continuous sequence-wise batching: same
// engine, same requests, all at once and Poisson; with the held-out perplexity of exactly the served
// configuration; then the served depth distribution replayed on the SmolLM-135M shape (payoffServe.mjs).
// Writes payoff.json and (payoffReport.mjs) payoff.md into docs/results, or PAYOFF_OUT.
// Env: PAYOFF_TOKENS (uptraining tokens), PAYOFF_ROUTER_TOKENS (router training tokens, default PAYOFF_TOKENS / 4),
// PAYOFF_ROUTERS (router kinds, default expert,token), PAYOFF_CORPUS_TOKENS, PAYOFF_SEED, PAYOFF_CACHE (default
// .cache/payoff); scoring/serving budget: PAYOFF_WINDOWS, PAYOFF_CALIBRATION_WINDOWS, PAYOFF_REQUESTS,
// PAYOFF_SMOLLM_REQUESTS, PAYOFF_REPEATS, PAYOFF_RULES (comma list, fixed:1 and fixed:2 included);
// `--smoke` (or PAYOFF_SMOKE=1): a tiny end-to-end run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { disposeModel } from '../../packages/engine/dist/index.js';
import { loadModel, trainingData } from '../../packages/engine/dist/node.js';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { machineDescription } from '../bench/record.mjs';
import { requestsFrom, servingRun } from '../bench/serveRun.mjs';
import { calibratedRule, conversion, plainPerplexity, qualityCurve, teacherCorpus, uptrain } from './payoffModel.mjs';
import { renderPayoff } from './payoffReport.mjs';
import { disposeRouted, routedModel, routerRule } from './payoffRouter.mjs';
import { ruleServing, serveModes, smollmReplay } from './payoffServe.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const smoke = process.argv.includes('--smoke') || process.env.PAYOFF_SMOKE === '1';
const out = process.env.PAYOFF_OUT ?? `${root}docs/results`;
const seed = Number(process.env.PAYOFF_SEED ?? 0);
const tokens = Number(process.env.PAYOFF_TOKENS ?? (smoke ? 1024 : 200_000));
if (!Number.isInteger(tokens) || tokens < 1024) throw new RangeError(`PAYOFF_TOKENS=${tokens}: a whole number ≥ 1024`);
// The teacher corpus the uptraining draws its batches from: the budget's size, or PAYOFF_CORPUS_TOKENS if larger.
const corpusTokens = Math.max(tokens, Number(process.env.PAYOFF_CORPUS_TOKENS ?? tokens));
const routerTokens = Number(process.env.PAYOFF_ROUTER_TOKENS ?? Math.max(1024, Math.round(tokens / 4)));
if (!Number.isInteger(routerTokens) || routerTokens < 1024)
  throw new RangeError(`PAYOFF_ROUTER_TOKENS=${routerTokens}: a whole number ≥ 1024`);
const routerKinds = /** @type {import('./payoffRouter.mjs').RouterKind[]} */ (
  (process.env.PAYOFF_ROUTERS ?? 'expert,token').split(',').filter((k) => k !== '')
);
for (const kind of routerKinds)
  if (kind !== 'expert' && kind !== 'token') throw new RangeError(`PAYOFF_ROUTERS: unknown router kind "${kind}"`);
const target = { speedup: 2, perplexityRatio: 1.05 };
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
const corpusFile = `${root}../shared/corpora/tinystories_val/tinystories_val.txt`;
const cache = process.env.PAYOFF_CACHE ?? `${root}.cache/payoff`;

await initBackend({ threads: 1 });
const started = performance.now();
const cpuStart = process.cpuUsage();
/** Wall minutes since the start at the end of each phase (the machine is shared: wall time, not work). */
/** @type {Record<string, number>} */
const phases = {};
const mark = (/** @type {string} */ phase) =>
  (phases[phase] = Number(((performance.now() - started) / 60000).toFixed(2)));
const loadBefore = os.loadavg();
const source = await loadModel(`${root}../shared/models/stories260K/hf`);
const corpus = await teacherCorpus(source, corpusTokens, seed, `${cache}/corpus`);
mark('corpus');
console.log(`corpus | ${corpus.file} | ${corpus.cached ? 'cached' : `${corpus.seconds.toFixed(0)} s`}`);
const trained = await uptrain(source, {
  textFile: corpus.file,
  tokens,
  batch: setup.batch,
  seqLen: setup.seqLen,
  out: `${cache}/run-${tokens}-seed${seed}${smoke ? '-smoke' : ''}`,
  seed,
});
mark('uptraining');
console.log(
  `uptrain | ${trained.tokens} tokens | ${trained.seconds.toFixed(0)} s | ${trained.tokensPerSecond.toFixed(0)} tok/s`,
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
      textFile: corpus.file,
      tokens: routerTokens,
      batch: setup.batch,
      seqLen: setup.seqLen,
      out: `${cache}/router-${kind}-${routerTokens}-on-${tokens}-seed${seed}${smoke ? '-smoke' : ''}`,
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
  model: `stories260K → middle-cycle × 2, ${conversion.init} init, rank-8 SVD LoRA, uptrained ${trained.tokens.toLocaleString('en-US')} tokens${chosen.rule.startsWith('router:') ? `, + MoR ${chosen.rule.slice('router:'.length)} router trained ${routerTokens.toLocaleString('en-US')} tokens` : ''}`,
  exitRule: chosen.rule,
  exitRuleChoice: chosen.why,
  kvMode,
  speedupTokensPerCpuSecond: headlineServed.tokensPerCpuSecond / baseline.tokensPerCpuSecond,
  perplexityRatio: point.perplexity / sourcePpl,
  target,
  smoke,
  budget: {
    tokens: trained.tokens,
    corpusTokens,
    issueTokens: 5_000_000,
    routerTokens,
    steps: trained.steps,
    batch: setup.batch,
    seqLen: setup.seqLen,
  },
  setup: { ...setup, rates: setup.rates.map((x) => (Number.isFinite(x) ? x : 'all-at-once')), rules },
  training: {
    reused: trained.reused,
    seconds: trained.seconds,
    tokensPerSecond: trained.tokensPerSecond,
    corpus: relative(root, corpus.file),
    layers: trained.layers,
  },
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
  seeds: { corpus: seed, training: seed, requests: 5, smollmRequests: 7, smollmReplay: 29, smollmWeights: 1 },
  commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(),
  date: new Date().toISOString(),
  machine: machineDescription(),
  minutes: (performance.now() - started) / 60000,
  cpuMinutes: ((c) => (c.user + c.system) / 6e7)(process.cpuUsage(cpuStart)),
  command: `${Object.entries(process.env)
    .filter(([k]) => k.startsWith('PAYOFF_') && k !== 'PAYOFF_OUT' && k !== 'PAYOFF_CACHE')
    .map(([k, v]) => `${k}=${v} `)
    .join('')}node tooling/experiments/payoff.mjs${smoke ? ' --smoke' : ''}`,
  phases,
  loadAverage: {
    before: loadBefore.map((x) => Number(x.toFixed(2))),
    after: os.loadavg().map((x) => Number(x.toFixed(2))),
  },
};
for (const r of routed) disposeRouted(r);
disposeModel(trained.model);
disposeModel(source);
mkdirSync(out, { recursive: true });
writeAtomic(`${out}/payoff.json`, `${JSON.stringify(results, null, 1)}\n`);
writeAtomic(`${out}/payoff.md`, renderPayoff(results));
console.log(`wrote ${out}/payoff.json and payoff.md`);

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

/** A positive whole number from the environment, or `fallback`. @param {string} name @param {number} fallback */
function envCount(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name}=${process.env[name]}: a whole number ≥ 1`);
  return value;
}

/** @param {string} file @param {string} body */
function writeAtomic(file, body) {
  writeFileSync(`${file}.tmp`, body);
  renameSync(`${file}.tmp`, file);
}
