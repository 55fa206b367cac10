// Renders docs/results/adapters.md from adapters.json (pnpm experiment:adapters). Every reading is computed from
// the json. Re-render alone: node tooling/experiments/adaptersReport.mjs [path/to/adapters.json]
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** @typedef {{ config: { method: string, target: string, sources: string[] }, trainedParameters: number, steps: number, tokens: number, cpuSeconds: number, perplexity: Record<string, number> }} Run */
/** @typedef {{ adapters: number, tokensPerSecond: number, tokensPerCpuSecond: number }} ServingRun */

const methodNames = /** @type {Record<string, string>} */ ({
  lora: 'own-domain LoRA (rank 8)',
  scalearn: 'ScaLearn (vectors) over the other two',
  'scalearn-uniform': 'ScaLearnUniform over the other two',
  'scalearn-uniform-shared': 'ScaLearnUniform++ (shared) over the other two',
  gated: 'gated fusion over the other two',
  dvpt: 'DVPT (shared)',
  full: 'full fine-tuning',
});
const compositionMethods = ['scalearn', 'scalearn-uniform', 'scalearn-uniform-shared', 'gated'];

/** @param {any} r the parsed adapters.json */
export function renderAdapters(r) {
  const domains = Object.keys(r.base.perplexity);
  const f = (/** @type {number} */ x) => x.toFixed(2);
  const lines = [
    '# Many adapters on one base, side by side (issue 18 §4)',
    '',
    r.smoke ? '> **smoke mode**: a tiny budget that only checks the pipeline; the numbers mean nothing.\n' : '',
    `Written by \`${r.command}\` (tooling/experiments/adapters.mjs; rendered by adaptersReport.mjs) at commit \`${r.commit}\` on ${r.date}.`,
    `Machine: ${r.machine} (nproc ${r.nproc}, shared by other jobs); load average ${r.loadAverage.before.join(' / ')} before, ${r.loadAverage.after.join(' / ')} after.`,
    `Seed ${r.seed}. ${r.minutes.total.toFixed(1)} wall minutes, ${r.cpuSeconds.toFixed(0)} CPU-seconds in all.`,
    '',
    '## Setup',
    '',
    `Base: ${r.model}, frozen in every run except full fine-tuning. Each run: ${r.budget.steps} steps at batch ${r.budget.batch} × ${r.budget.seq} tokens (${r.budget.tokensPerRun.toLocaleString('en-US')} tokens), ${r.budget.schedule}; peak learning rates ${Object.entries(
      r.budget.learningRates,
    )
      .map(([m, lr]) => `${m} ${lr}`)
      .join(
        ', ',
      )}. LoRA rank ${r.budget.shapes.loraRank} on all seven projections; DVPT ${r.budget.shapes.dvpt.prompts} prompts, bottleneck ${r.budget.shapes.dvpt.bottleneck}, one module shared by all layers.`,
    '',
    '| domain | corpus | trained on (first bytes) | held out (last bytes, never trained on) |',
    '|---|---|---:|---:|',
    ...domains.map(
      (d) =>
        `| ${d} | ${r.data[d].file} | ${r.data[d].trainBytes.toLocaleString('en-US')} | ${r.data[d].heldOutBytes.toLocaleString('en-US')} |`,
    ),
    '',
    `Perplexity: held-out text in windows of ${r.window} tokens, each from BOS, with the trained result loaded as \`generate\` loads it (\`--adapter\`, \`--composition\`, \`--dvpt\`, or the fine-tuned model). The base stories260K: ${domains.map((d) => `${d} ${f(r.base.perplexity[d])}`).join(', ')}.`,
    '',
    '## Per target domain',
    '',
    ...Object.entries(r.targets).flatMap(([target, runs]) =>
      targetTable(target, /** @type {Run[]} */ (runs), r.base.perplexity, domains),
    ),
    '## Readings',
    '',
    ...readings(r, domains).map((s) => `- ${s}`),
    '',
    '## Serving',
    '',
    `The same mixed load (${r.serving.load.requests} requests, ${r.serving.load.newTokens} greedy tokens each, EOS ignored, adapters round-robin) through the serving engine (tooling/bench/adapterServing.mjs), ${r.serving.rounds} interleaved round(s). Adapters, in order: ${r.serving.adapters.join(', ')}.`,
    '',
    '| adapters | tokens/s (per round) | tokens per CPU-second (per round) |',
    '|---:|---|---|',
    ...servingRows(r.serving.runs),
    '',
    '## Not run',
    '',
    `- Uptrained recursive model: ${r.uptrainedRecursive.why}.`,
    '',
  ];
  return `${lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n')}\n`;
}

/** @param {string} target @param {Run[]} runs @param {Record<string, number>} base @param {string[]} domains */
function targetTable(target, runs, base, domains) {
  return [
    `### ${target}`,
    '',
    `| method | trainable parameters | steps / tokens | ${domains.map((d) => (d === target ? `**${d}** ppl` : `${d} ppl`)).join(' | ')} |`,
    `|---|---:|---|${domains.map(() => '---:').join('|')}|`,
    `| base (no training) | 0 | – | ${domains.map((d) => base[d]?.toFixed(2)).join(' | ')} |`,
    ...runs.map(
      (run) =>
        `| ${methodNames[run.config.method] ?? run.config.method} | ${run.trainedParameters.toLocaleString('en-US')} | ${run.steps} / ${run.tokens.toLocaleString('en-US')} | ${domains.map((d) => run.perplexity[d]?.toFixed(2)).join(' | ')} |`,
    ),
    '',
  ];
}

/** @param {ServingRun[]} runs */
function servingRows(runs) {
  const counts = [...new Set(runs.map((s) => s.adapters))];
  return counts.map((n) => {
    const mine = runs.filter((s) => s.adapters === n);
    return `| ${n === 0 ? '0 (base)' : n} | ${mine.map((s) => s.tokensPerSecond.toFixed(0)).join(', ')} | ${mine.map((s) => s.tokensPerCpuSecond.toFixed(0)).join(', ')} |`;
  });
}

const mean = (/** @type {number[]} */ xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Sentences computed from the numbers. @param {any} r @param {string[]} domains */
export function readings(r, domains) {
  const out = [];
  const targets = /** @type {[string, Run[]][]} */ (Object.entries(r.targets));
  for (const [target, runs] of targets) {
    const own = runs.find((x) => x.config.method === 'lora');
    const composed = runs.filter((x) => compositionMethods.includes(x.config.method));
    if (!own || composed.length === 0) continue;
    const best = composed.reduce((a, b) => (b.perplexity[target] < a.perplexity[target] ? b : a));
    const gap = best.perplexity[target] / own.perplexity[target];
    const baseGain = r.base.perplexity[target] / best.perplexity[target];
    out.push(
      `${target}: the best composition over the other domains' adapters, ${methodNames[best.config.method]}, reaches perplexity ${best.perplexity[target].toFixed(2)} — ${gap.toFixed(2)}× the own-domain LoRA's ${own.perplexity[target].toFixed(2)} (${gap <= 1.05 ? 'near it' : 'not near it'}) and ${baseGain.toFixed(2)}× better than the base's ${r.base.perplexity[target].toFixed(2)}, training ${best.trainedParameters.toLocaleString('en-US')} parameters against ${own.trainedParameters.toLocaleString('en-US')}.`,
    );
    const bestOverall = runs.reduce((a, b) => (b.perplexity[target] < a.perplexity[target] ? b : a));
    out.push(
      `${target}: lowest target perplexity: ${methodNames[bestOverall.config.method]} (${bestOverall.perplexity[target].toFixed(2)}).`,
    );
  }
  const forgetting = forgettingByMethod(targets, r.base.perplexity, domains);
  if (forgetting.length > 0) {
    const [least] = forgetting;
    const most = forgetting.at(-1);
    out.push(
      `Forgetting (mean over targets of held-out perplexity on the non-target domains ÷ the base's, with the result loaded): least ${methodNames[least.method]} (${least.ratio.toFixed(3)}×), most ${methodNames[most?.method ?? '']} (${most?.ratio.toFixed(3)}×); all: ${forgetting.map((x) => `${x.method} ${x.ratio.toFixed(3)}×`).join(', ')}. An adapter left unloaded forgets nothing; full fine-tuning has no such switch.`,
    );
  }
  out.push(...servingReadings(r.serving.runs));
  return out;
}

/** Per method, mean off-target perplexity ratio to the base, least first. @param {[string, Run[]][]} targets @param {Record<string, number>} base @param {string[]} domains */
function forgettingByMethod(targets, base, domains) {
  /** @type {Map<string, number[]>} */
  const ratios = new Map();
  for (const [target, runs] of targets)
    for (const run of runs)
      for (const d of domains.filter((x) => x !== target))
        ratios.set(run.config.method, [
          ...(ratios.get(run.config.method) ?? []),
          (run.perplexity[d] ?? NaN) / (base[d] ?? NaN),
        ]);
  return [...ratios].map(([method, xs]) => ({ method, ratio: mean(xs) })).sort((a, b) => a.ratio - b.ratio);
}

/** @param {ServingRun[]} runs */
function servingReadings(runs) {
  const rate = (/** @type {number} */ n) => mean(runs.filter((s) => s.adapters === n).map((s) => s.tokensPerCpuSecond));
  const one = rate(1);
  if (!Number.isFinite(one) || !Number.isFinite(rate(4))) return [];
  return [
    `Serving 4 adapters under the same mixed load runs ${(rate(4) / one).toFixed(2)}× the tokens per CPU-second of serving 1 (2 adapters: ${(rate(2) / one).toFixed(2)}×; no adapter: ${(rate(0) / one).toFixed(2)}×).`,
  ];
}

/** @param {string} file @param {string} body */
function writeAtomic(file, body) {
  writeFileSync(`${file}.tmp`, body);
  renameSync(`${file}.tmp`, file);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const json = process.argv[2] ?? fileURLToPath(new URL('../../docs/results/adapters.json', import.meta.url));
  writeAtomic(`${dirname(json)}/adapters.md`, renderAdapters(JSON.parse(readFileSync(json, 'utf8'))));
  console.log(`wrote ${dirname(json)}/adapters.md`);
}
