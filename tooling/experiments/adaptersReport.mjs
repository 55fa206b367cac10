// Renders docs/results/adapters.md from adapters.json (pnpm experiment:adapters). Every reading is computed from
// the json. Re-render alone: node tooling/experiments/adaptersReport.mjs [path/to/adapters.json]
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** @typedef {{ config: { method: string, target: string, sources: string[] }, trainedParameters: number, steps: number, tokens: number, cpuSeconds: number, perplexity: Record<string, number> }} Run */
/** @typedef {{ adapters: number, tokensPerSecond: number, tokensPerCpuSecond: number }} ServingRun */
/**
 * adapters.json, as adapters.mjs writes it.
 * @typedef {{ smoke: boolean, model: string, command: string, commit: string, date: string, machine: string, nproc: number, seed: number,
 *   budget: { steps: number, batch: number, seq: number, tokensPerRun: number, schedule: string, learningRates: Record<string, number>,
 *     shapes: { loraRank: number, dvpt: { prompts: number, bottleneck: number, share: string } } },
 *   data: Record<string, { file: string, trainBytes: number, heldOutBytes: number }>, window: number,
 *   base: { perplexity: Record<string, number> }, loras: Run[], targets: Record<string, Run[]>,
 *   serving: { load: { requests: number, newTokens: number }, rounds: number, adapters: string[], runs: ServingRun[] },
 *   uptrainedRecursive: { run: boolean, why: string }, minutes: { training: number, total: number }, cpuSeconds: number,
 *   runs: { count: number, cached: number, trainingCpuSeconds: number },
 *   loadAverage: { before: number[], after: number[] } }} Results
 */

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

/** @param {Results} r */
export function renderAdapters(r) {
  const domains = Object.keys(r.base.perplexity);
  const f = (/** @type {number} */ x) => x.toFixed(2);
  const lines = [
    '# Many adapters on one base, side by side (issue 18 §4)',
    '',
    r.smoke ? '> **smoke mode**: a tiny budget that only checks the pipeline; the numbers mean nothing.\n' : '',
    `Written by \`${r.command}\` (tooling/experiments/adapters.mjs; rendered by adaptersReport.mjs) at commit \`${r.commit}\` on ${r.date}.`,
    `Machine: ${r.machine} (nproc ${r.nproc}, shared by other jobs); load average ${r.loadAverage.before.join(' / ')} before, ${r.loadAverage.after.join(' / ')} after.`,
    `Seed ${r.seed}. This invocation: ${r.minutes.total.toFixed(1)} wall minutes, ${r.cpuSeconds.toFixed(0)} CPU-seconds; ${r.runs.count} training runs, ${r.runs.cached} of them reused from the cache (.cache/adapters, trained by earlier invocations of the same script and settings, e.g. \`ADAPTERS_TARGETS=… ADAPTERS_TRAIN_ONLY=1\` slices in parallel), ${r.runs.trainingCpuSeconds.toFixed(0)} training CPU-seconds in all runs.`,
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
    ...Object.entries(r.data).map(
      ([d, x]) =>
        `| ${d} | ${x.file} | ${x.trainBytes.toLocaleString('en-US')} | ${x.heldOutBytes.toLocaleString('en-US')} |`,
    ),
    '',
    `Perplexity: held-out text in windows of ${r.window} tokens, each from BOS, with the trained result loaded as \`generate\` loads it (\`--adapter\`, \`--composition\`, \`--dvpt\`, or the fine-tuned model). The base stories260K: ${domains.map((d) => `${d} ${f(at(r.base.perplexity, d))}`).join(', ')}.`,
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
    `The same mixed load (${r.serving.load.requests} requests, ${r.serving.load.newTokens} greedy tokens each, EOS ignored, adapters round-robin) through the serving engine on the fused wasm kernels, 1 thread (tooling/bench/adapterServing.mjs), ${r.serving.rounds} interleaved round(s) after one discarded warm-up serve. Adapters, in order: ${r.serving.adapters.join(', ')}.`,
    '',
    '| adapters | tokens/s: median (per round) | tokens per CPU-second: median (per round) |',
    '|---:|---|---|',
    ...servingRows(r.serving.runs),
    '',
    '## Not run',
    '',
    `- The uptrained recursive model: ${r.uptrainedRecursive.why}.`,
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
    const perSecond = mine.map((s) => s.tokensPerSecond);
    const perCpu = mine.map((s) => s.tokensPerCpuSecond);
    return `| ${n === 0 ? '0 (base)' : n} | ${median(perSecond).toFixed(0)} (${perSecond.map((x) => x.toFixed(0)).join(', ')}) | ${median(perCpu).toFixed(0)} (${perCpu.map((x) => x.toFixed(0)).join(', ')}) |`;
  });
}

const mean = (/** @type {number[]} */ xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (/** @type {number[]} */ xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
};

/** `record[key]`, which the json always holds (a missing one is a broken file, not a blank cell). @param {Record<string, number>} record @param {string} key */
function at(record, key) {
  const value = record[key];
  if (value === undefined) throw new Error(`adapters.json: no value for ${key}`);
  return value;
}

/** @param {Run[]} runs @param {string} domain */
const lowest = (runs, domain) => runs.reduce((a, b) => (at(b.perplexity, domain) < at(a.perplexity, domain) ? b : a));
const nameOf = (/** @type {Run} */ run) => methodNames[run.config.method] ?? run.config.method;

/** Sentences computed from the numbers. @param {Results} r @param {string[]} domains */
export function readings(r, domains) {
  const out = [];
  const targets = Object.entries(r.targets);
  for (const [target, runs] of targets) {
    const own = runs.find((x) => x.config.method === 'lora');
    const composed = runs.filter((x) => compositionMethods.includes(x.config.method));
    if (!own || composed.length === 0) continue;
    const best = lowest(composed, target);
    const [bestPpl, ownPpl, basePpl] = [
      at(best.perplexity, target),
      at(own.perplexity, target),
      at(r.base.perplexity, target),
    ];
    const gap = bestPpl / ownPpl;
    out.push(
      `${target}: the best composition over the other domains' adapters, ${nameOf(best)}, reaches perplexity ${bestPpl.toFixed(2)} — ${gap.toFixed(2)}× the own-domain LoRA's ${ownPpl.toFixed(2)} (${gap <= 1.05 ? 'near it' : 'not near it'}; the base: ${basePpl.toFixed(2)}${bestPpl >= basePpl ? ', which no composition beats here' : ''}), training ${best.trainedParameters.toLocaleString('en-US')} parameters against ${own.trainedParameters.toLocaleString('en-US')}.`,
    );
    const bestOverall = lowest(runs, target);
    out.push(
      `${target}: lowest target perplexity: ${nameOf(bestOverall)} (${at(bestOverall.perplexity, target).toFixed(2)}).`,
    );
  }
  out.push(...forgettingReadings(targets, r, domains));
  out.push(...servingReadings(r.serving.runs));
  return out;
}

/**
 * Forgetting, in the two senses the grid allows: a single-domain method (own LoRA, DVPT, full fine-tuning) against
 * the base on the domains it was not trained for; a composition against its sources' own LoRAs on their domains
 * (it includes those adapters, so the base is no fair reference there).
 * @param {[string, Run[]][]} targets @param {Results} r @param {string[]} domains
 */
function forgettingReadings(targets, r, domains) {
  /** @type {Map<string, number[]>} */
  const ratios = new Map();
  const add = (/** @type {string} */ method, /** @type {number} */ ratio) =>
    ratios.set(method, [...(ratios.get(method) ?? []), ratio]);
  for (const [target, runs] of targets)
    for (const run of runs)
      for (const d of domains.filter((x) => x !== target)) {
        const source = r.loras.find((l) => l.config.target === d);
        const composed = compositionMethods.includes(run.config.method);
        if (composed && !source) continue;
        add(
          run.config.method,
          at(run.perplexity, d) / at(composed && source ? source.perplexity : r.base.perplexity, d),
        );
      }
  const ranked = [...ratios].map(([method, xs]) => ({ method, ratio: mean(xs) })).sort((a, b) => a.ratio - b.ratio);
  const single = ranked.filter((x) => !compositionMethods.includes(x.method));
  const composed = ranked.filter((x) => compositionMethods.includes(x.method));
  const list = (/** @type {typeof ranked} */ xs) =>
    xs.map((x) => `${methodNames[x.method]} ${x.ratio.toFixed(3)}×`).join(', ');
  const out = [];
  if (single[0])
    out.push(
      `Forgetting of the single-domain methods (mean over targets of the held-out perplexity on the other two domains ÷ the base's, the result loaded; above 1 is forgetting): least ${methodNames[single[0].method]}; ${list(single)}. An adapter left unloaded changes nothing; full fine-tuning has no such switch.`,
    );
  if (composed[0])
    out.push(
      `The compositions on their source domains (held-out perplexity ÷ that domain's own LoRA, mean over targets and sources; 1 keeps the source's quality): best ${methodNames[composed[0].method]}; ${list(composed)}.`,
    );
  return out;
}

/** @param {ServingRun[]} runs */
function servingReadings(runs) {
  const rate = (/** @type {number} */ n) =>
    median(runs.filter((s) => s.adapters === n).map((s) => s.tokensPerCpuSecond));
  const one = rate(1);
  if (!Number.isFinite(one) || !Number.isFinite(rate(4))) return [];
  return [
    `Serving 4 adapters under the same mixed load runs ${(rate(4) / one).toFixed(2)}× the tokens per CPU-second of serving 1 (medians over the rounds) (2 adapters: ${(rate(2) / one).toFixed(2)}×; no adapter: ${(rate(0) / one).toFixed(2)}×).`,
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
