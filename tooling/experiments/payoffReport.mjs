// Renders docs/results/payoff.md from payoff.json (written by payoff.mjs); every reading is computed here
// from the numbers. Run on its own (`node tooling/experiments/payoffReport.mjs [dir]`) to re-render.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { computeBound, depthBound } from './payoffReportBound.mjs';
import { brokenRatio, fmt, int, modelSetup, routerSetup, uptrainingSetup } from './payoffReportSetup.mjs';

/** @typedef {import('./payoffServe.mjs').ServedRow} ServedRow */
/** @typedef {import('./payoffModel.mjs').CurvePoint} CurvePoint */
/** @typedef {{ source: number, fullDepth: number, loop1: number }} Layers */
/** @typedef {typeof import('./uptrainingRun.mjs').training} Training */
/**
 * The PyTorch uptraining run the model is (experiment:uptraining's cache; payoff.mjs's uptrainingRecord).
 * @typedef {{
 *   key: string, config: import('./uptrainingRun.mjs').RunConfig, cached: boolean, trainedTokens: number, steps: number,
 *   seconds: number, cpuSeconds: number | null, tokensPerSecond: number, loadAverage: { before: string, after: string },
 *   perplexityPerLoop: { afterConversion: number[], afterUptraining: number[] }, training: Training,
 *   python: string, blas: string, cache: string, corpus: { file: string, tokens: number, seed: number },
 *   heldOut: { characters: number, window: number } | null, heldOutFile: string, layers: Layers,
 * }} Uptraining
 */
/**
 * @typedef {{
 *   model: string, exitRule: string, exitRuleChoice: string, kvMode: string,
 *   speedupTokensPerCpuSecond: number, perplexityRatio: number, depthBound: number,
 *   target: { speedup: number, perplexityRatio: number }, smoke: boolean,
 *   budget: { tokens: number, requestedTokens: number, issueTokens: number, routerTokens: number, steps: number },
 *   setup: { batch: number, seqLen: number },
 *   routers: { kind: string, kvMode: string, steps: number, tokens: number, seconds: number, tokensPerSecond: number, reused: boolean, thresholds: readonly number[] | null }[],
 *   uptraining: Uptraining,
 *   heldOut: { windows: number, calibrationWindows: number, tokens: number },
 *   sourcePerplexity: number, sourceCalibrationPerplexity: number,
 *   curve: CurvePoint[], served: ServedRow[],
 *   smollm: { rows: ServedRow[], layers: Layers, replays: readonly { rule: string, continueShare: number }[], requests: number },
 *   requests: { count: number, seed: number, newTokens: number },
 *   seeds: Record<string, number>, commit: string, date: string, machine: string, minutes: number, phases: Record<string, number>,
 *   cpuMinutes?: number, command?: string,
 *   loadAverage: { before: number[], after: number[] },
 * }} PayoffResults
 */

/** @param {PayoffResults} r */
export function renderPayoff(r) {
  const base = (/** @type {ServedRow['rate']} */ rate) =>
    /** @type {ServedRow} */ (r.served.find((s) => s.rule === null && s.rate === rate));
  const quality = (/** @type {number} */ ratio) =>
    ratio > brokenRatio ? '**broken**' : ratio <= r.target.perplexityRatio ? 'within target' : 'worse than target';
  const curveRows = r.curve.map((p) => {
    const ratio = p.perplexity / r.sourcePerplexity;
    const s = r.served.find((x) => x.rule === p.rule && x.rate === 'all-at-once');
    const speed = s ? s.tokensPerCpuSecond / base('all-at-once').tokensPerCpuSecond : Number.NaN;
    const bound = s ? `${fmt(depthBound(r.uptraining.layers, s.averageDepth))}×` : '—';
    return `| ${p.rule}${p.rule === r.exitRule ? ' (headline)' : ''} | ${p.kvMode ?? r.kvMode} | ${fmt(p.averageDepth, 3)} | ${fmt(p.perplexity, 3)} | ${fmt(ratio, 3)} | ${quality(ratio)} | ${fmt(speed)}× | ${bound} |`;
  });
  const servedTable = (/** @type {ServedRow[]} */ rows) =>
    rows
      .map(
        (s) =>
          `| ${s.name} | ${s.rate === 'all-at-once' ? 'all at once' : `Poisson ${s.rate}/s`} | ${fmt(s.tokensPerCpuSecond, 0)} | ${fmt(s.tokensPerSecond, 0)} | ${fmt(s.seconds)} | ${fmt(s.p50, 0)} | ${fmt(s.p99, 0)} | ${fmt(s.averageDepth)} |`,
      )
      .join('\n');
  return `# The payoff: a recursive stories260K served against the original

Produced by \`pnpm experiment:payoff\`${r.smoke ? ' **in smoke mode (tiny budget: not a result)**' : ''} at commit ${r.commit}, ${r.date.slice(0, 16).replace('T', ' ')} UTC,
on ${r.machine}, wasm backend, 1 kernel thread; ${fmt(r.minutes, 1)} minutes (cumulative by phase: ${Object.entries(
    r.phases ?? {},
  )
    .map(([k, v]) => `${k} ${fmt(v, 1)}`)
    .join(', ')}); load average ${r.loadAverage.before.join(' / ')}
(1/5/15 min) before and ${r.loadAverage.after.join(' / ')} after. Raw numbers: [payoff.json](payoff.json); this page is
rendered from them by \`tooling/experiments/payoffReport.mjs\`.${r.command ? ` Command: \`${r.command}\`` : ''}${r.cpuMinutes === undefined ? '' : ` (${fmt(r.cpuMinutes, 1)} CPU-minutes in this process and its sample-corpus and PyTorch children, cached phases not counted)`}.

## Headline

${headline(r)}

${computeBound(r)}

## Setup

${modelSetup(r)}
${uptrainingSetup(r)}
- **Held-out perplexity**: ${r.heldOut.windows} windows of 129 tokens (${int(r.heldOut.tokens)} predicted tokens) from the last 10% of the
  TinyStories documents, which nothing trains on, scored under exactly the served configuration (same exit rule, KV
  mode \`${r.kvMode}\`; a window's first token is its prompt). The original scores **${fmt(r.sourcePerplexity, 3)}** on them.
- **Exit rule**: ${r.exitRuleChoice} (${r.heldOut.calibrationWindows} other held-out windows; the original scores ${fmt(r.sourceCalibrationPerplexity, 3)} there), so the
  headline's rule is not picked on the windows it is scored on.
${routerSetup(r)}
- **Serving**: the same engine and ${r.requests.count} requests (TinyStories paragraph prefixes, seed ${r.requests.seed}, ${int(r.requests.newTokens)} new tokens in all),
  all at once and Poisson; each mode run ${r.served[0]?.runs ?? 1}× interleaved, the run of most tokens per CPU-second kept.
  Tokens per CPU-second is the process's CPU time and holds up under other load; wall clock, tokens/s and latency do not
  (the machine was shared with other jobs).

## Speed–quality curve (stories260K)

Speed: tokens per CPU-second relative to the original under continuous sequence-wise batching, all requests at once.
Depth bound: the most depth alone allows at the rule's served depth (the original's layers per generated token over
the recursive model's; see the compute bound above). A row's quality is **broken** past ${brokenRatio}× the original's perplexity.

| exit rule | KV mode | avg depth | held-out ppl | ppl ratio | quality | speed vs original | depth bound |
| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |
${curveRows.join('\n')}

## Served (stories260K)

| mode | arrivals | tokens/CPU-s | tokens/s | wall s | p50 ms | p99 ms | avg depth |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
${servedTable(r.served)}

## The same depths on the SmolLM-135M shape (random weights)

Fixed depths, and ${r.smollm.replays.length === 0 ? 'no' : r.smollm.replays.map((x) => `${x.rule}'s`).join(' and ')} served depth distribution${r.smollm.replays.length === 1 ? '' : 's'} (the headline rule's if it is a
confidence rule, and the shallowest confidence rule's; the share of generated tokens that ran loop 2 on stories260K) replayed on
the SmolLM-135M shape converted by the same recipe without LoRA (${r.smollm.layers.fullDepth} layers at full depth, ${r.smollm.layers.loop1} when a token
leaves after loop 1, against ${r.smollm.layers.source} in the vanilla model), ${r.smollm.requests} requests, one run each. Random weights carry no
quality; this shows what the depths buy where weight reads dominate.

| mode | arrivals | tokens/CPU-s | tokens/s | wall s | p50 ms | p99 ms | avg depth |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |
${servedTable(r.smollm.rows)}

${premise(r)}
`;
}

/** @param {PayoffResults} r */
function headline(r) {
  const goal = r.speedupTokensPerCpuSecond >= r.target.speedup && r.perplexityRatio <= r.target.perplexityRatio;
  const broken = r.perplexityRatio > brokenRatio;
  return `| model | exit rule | speedup (tokens/CPU-s) | perplexity ratio | goal (≥ ${r.target.speedup}× at ≤ ${r.target.perplexityRatio}) |
| --- | --- | ---: | ---: | --- |
| ${r.model} | ${r.exitRule} | ${broken ? '— (model broken)' : `${fmt(r.speedupTokensPerCpuSecond)}×`} | ${fmt(r.perplexityRatio, 3)} | ${goal ? '**met**' : '**not met**'} |

${
  broken
    ? `The served model's perplexity is ${fmt(r.perplexityRatio)}× the original's: the model is broken at this budget, so no speedup is claimed for it.`
    : `The recursive model serves ${fmt(r.speedupTokensPerCpuSecond)}× the original's tokens per CPU-second at ${fmt(r.perplexityRatio, 3)}× its held-out perplexity; the goal is ${goal ? 'met' : `not met (${r.speedupTokensPerCpuSecond < r.target.speedup ? `speed short of ${r.target.speedup}×` : ''}${r.speedupTokensPerCpuSecond < r.target.speedup && r.perplexityRatio > r.target.perplexityRatio ? ', and ' : ''}${r.perplexityRatio > r.target.perplexityRatio ? `quality above ${r.target.perplexityRatio}×` : ''})`}.`
}`;
}

/** Where the premise (fewer executed layers → proportionally cheaper tokens at kept quality) holds, from the data. @param {PayoffResults} r */
function premise(r) {
  const ratio = (/** @type {ServedRow[]} */ rows, /** @type {(s: ServedRow) => boolean} */ which) => {
    const b = rows.find((s) => s.rule === null && s.rate === 'all-at-once');
    const x = rows.find((s) => which(s) && s.rate === 'all-at-once');
    return b && x ? x.tokensPerCpuSecond / b.tokensPerCpuSecond : Number.NaN;
  };
  const storiesFull = ratio(r.served, (s) => s.rule === 'fixed:2');
  const storiesOne = ratio(r.served, (s) => s.rule === 'fixed:1');
  const smolOne = ratio(r.smollm.rows, (s) => s.rule === 'fixed:1');
  const smolFull = ratio(r.smollm.rows, (s) => s.rule === 'fixed:2');
  const { layers } = r.smollm;
  const replays = r.smollm.replays.map(({ rule, continueShare }) => {
    const share = (layers.loop1 * (1 - continueShare) + layers.fullDepth * continueShare) / layers.source;
    const speed = ratio(r.smollm.rows, (s) => s.rule === `replay:${rule}`);
    return `${rule}'s depths (${fmt(100 * share, 0)}% of the vanilla model's layers per generated token) ${fmt(speed)}×`;
  });
  const within = r.curve.filter((p) => p.perplexity / r.sourcePerplexity <= r.target.perplexityRatio);
  const best = Math.min(...r.curve.map((p) => p.perplexity / r.sourcePerplexity));
  const t = r.uptraining.layers;
  return `## Where the premise holds

Computed from the tables above. The premise: running fewer layers per token makes tokens proportionally cheaper at kept quality.

- Quality: ${within.length === 0 ? `no exit rule, full depth included, comes within ${r.target.perplexityRatio}× of the original's perplexity at this uptraining budget (best ${fmt(best, 3)}×)` : `${within.map((p) => p.rule).join(', ')} ${within.length === 1 ? 'comes' : 'come'} within ${r.target.perplexityRatio}× of the original's perplexity`}.
- stories260K (hidden size 64): at full depth a token runs ${t.fullDepth} of the original's ${t.source} layers and the recursive model serves
  ${fmt(storiesFull)}× its tokens/CPU-s; leaving after loop 1 (${t.loop1} of ${t.source} layers, ${fmt((100 * t.loop1) / t.source, 0)}%) it serves ${fmt(storiesOne)}×, where the
  layer count alone would give ${fmt(t.source / t.loop1)}×. ${storiesOne >= r.target.speedup ? 'Shallow exits pay at least 2× here.' : 'Even every token leaving after one loop does not reach 2× here.'}
- ${noise(storiesOne, storiesFull, t.fullDepth / t.loop1)}
- ${mixedDepths(r)}
- ${probeCost(r)}
- ${routerReading(r)}
- SmolLM-135M shape (CDB against the vanilla model, tokens/CPU-s): full depth (${layers.fullDepth} of ${layers.source} layers) ${fmt(smolFull)}×, every
  token leaving after loop 1 (${layers.loop1} of ${layers.source}) ${fmt(smolOne)}×${replays.length > 0 ? `, ${replays.join(', ')}` : ''}. ${premiseVerdict(smolOne, r.target.speedup)}`;
}

/**
 * A check of the timing's resolution: fixed:1 runs fewer layers than fixed:2, so it should be the faster.
 * @param {number} one fixed:1's speed ratio @param {number} full fixed:2's @param {number} layerRatio fixed:2's layers / fixed:1's
 */
function noise(one, full, layerRatio) {
  const measured = `fixed:1 served ${fmt(one / full)}× fixed:2's tokens/CPU-s where the layer counts alone predict ${fmt(layerRatio)}×`;
  return one > full
    ? `Timing check: ${measured}.`
    : `Timing check: ${measured} — these short runs (well under a second each, on a shared machine) do not resolve
  differences of that size, so read the stories260K speed ratios as coarse.`;
}

/** Whether mixing depths by confidence scores between the two fixed depths, as an exit curve should. @param {PayoffResults} r */
function mixedDepths(r) {
  const ppl = (/** @type {string} */ rule) => r.curve.find((p) => p.rule === rule)?.perplexity ?? Number.NaN;
  const [one, two] = [ppl('fixed:1'), ppl('fixed:2')];
  const rules = r.curve.filter((p) => p.rule.startsWith('maxprob'));
  const worse = rules.filter((p) => p.perplexity > Math.max(one, two));
  const order =
    two < one ? 'loop 2 scores better than loop 1' : 'loop 2 scores no better than loop 1 (the curve runs backwards)';
  return `Exit curve: ${order} (fixed:1 ${fmt(one, 3)}, fixed:2 ${fmt(two, 3)}); ${
    worse.length === 0
      ? 'every confidence rule scores at or between them'
      : `${worse.length} of ${rules.length} confidence rules (${worse.map((p) => p.rule).join(', ')}) score worse than both fixed depths (a candidate cause this run does not test: under KV \`${r.kvMode}\` a token that left after loop 1 leaves loop 2 a copy of its loop-1 entry, which later tokens attend to; training ran every token through both loops)`
  }.`;
}

/**
 * What a confidence rule's exit probe (epilogue + LM head after loop 1 for every generated token) costs: each
 * rule's speed against fixed depths at its average depth (CPU per token interpolated between fixed:1 and fixed:2).
 * @param {PayoffResults} r
 */
function probeCost(r) {
  const run = (/** @type {string} */ rule) => r.served.find((s) => s.rule === rule && s.rate === 'all-at-once');
  const [one, two] = [
    run('fixed:1')?.tokensPerCpuSecond ?? Number.NaN,
    run('fixed:2')?.tokensPerCpuSecond ?? Number.NaN,
  ];
  const costs = r.curve
    .filter((p) => p.rule.startsWith('maxprob'))
    .map((p) => {
      const s = /** @type {ServedRow} */ (run(p.rule));
      const free = 1 / (1 / one + (s.averageDepth - 1) * (1 / two - 1 / one));
      return `${p.rule} ${fmt(s.tokensPerCpuSecond, 0)} vs ≈ ${fmt(free, 0)} (${fmt(100 * (1 - s.tokensPerCpuSecond / free), 0)}%)`;
    });
  return `Exit probes: a confidence rule pays for a readout after loop 1 of every generated token. Served tokens/CPU-s
  against fixed depths at the same average depth (CPU per token interpolated between fixed:1 and fixed:2), and the share
  of throughput the decision costs: ${costs.join('; ')}.`;
}

/** The router rows against the fixed depths and the confidence rules, from the data. @param {PayoffResults} r */
function routerReading(r) {
  const points = r.curve.filter((p) => p.rule.startsWith('router:'));
  if (points.length === 0) return 'MoR routers: none in this run.';
  const run = (/** @type {string} */ rule) => r.served.find((s) => s.rule === rule && s.rate === 'all-at-once');
  const base = run('fixed:1') && r.served.find((s) => s.rule === null && s.rate === 'all-at-once');
  const speed = (/** @type {string} */ rule) =>
    base ? (run(rule)?.tokensPerCpuSecond ?? Number.NaN) / base.tokensPerCpuSecond : Number.NaN;
  const confidence = r.curve.filter((p) => p.rule.startsWith('maxprob'));
  const parts = points.map((p) => {
    // the confidence rule nearest in average depth, for a like-for-like quality comparison
    const near = [...confidence].sort(
      (a, b) => Math.abs(a.averageDepth - p.averageDepth) - Math.abs(b.averageDepth - p.averageDepth),
    )[0];
    return `${p.rule} runs ${fmt(p.averageDepth, 2)} loops per token at perplexity ${fmt(p.perplexity, 3)} (${fmt(p.perplexity / r.sourcePerplexity, 2)}× the original${p.perplexity / r.sourcePerplexity > brokenRatio ? ': **broken**, so its speed is no payoff' : ''}) and serves ${fmt(speed(p.rule))}× its tokens/CPU-s${near ? `; the confidence rule nearest in depth, ${near.rule} (${fmt(near.averageDepth, 2)} loops), scores ${fmt(near.perplexity, 3)} at ${fmt(speed(near.rule))}×` : ''}`;
  });
  return `MoR routers: ${parts.join('; ')}.`;
}

/** What even the shallowest depth buys on the large shape. @param {number} ratio @param {number} goal */
function premiseVerdict(ratio, goal) {
  if (ratio >= goal) return `There one loop per token pays at least ${goal}×.`;
  if (ratio > 1) return `There even one loop per token pays less than ${goal}×.`;
  return 'There even one loop per token is no faster than the vanilla model.';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? fileURLToPath(new URL('../../docs/results', import.meta.url));
  const results = /** @type {PayoffResults} */ (JSON.parse(readFileSync(`${dir}/payoff.json`, 'utf8')));
  if (!results.uptraining)
    throw new Error(
      `${dir}/payoff.json predates the PyTorch uptraining (no "uptraining" record): rerun pnpm experiment:payoff`,
    );
  writeFileSync(`${dir}/payoff.md.tmp`, renderPayoff(results));
  renameSync(`${dir}/payoff.md.tmp`, `${dir}/payoff.md`);
  console.log(`wrote ${dir}/payoff.md`);
}
