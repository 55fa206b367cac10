// Renders docs/results/adapters.md from adapters.json (pnpm experiment:adapters). Every reading is computed from
// the json. Re-render alone: node tooling/experiments/adaptersReport.mjs [path/to/adapters.json]
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recursiveSection } from './adaptersReportRecursive.mjs';
import { at, gridReadings, median, targetTable } from './adaptersTables.mjs';

/** @typedef {import('./adaptersTables.mjs').Run} Run */
/** @typedef {{ adapters: number, tokensPerSecond: number, tokensPerCpuSecond: number }} ServingRun */
/**
 * adapters.json, as adapters.mjs writes it.
 * @typedef {{ smoke: boolean, model: string, command: string, commit: string, date: string, machine: string, nproc: number, seed: number,
 *   budget: { steps: number, batch: number, seq: number, tokensPerRun: number, schedule: string, learningRates: Record<string, number>,
 *     shapes: { loraRank: number, dvpt: { prompts: number, bottleneck: number, share: string } } },
 *   data: Record<string, { file: string, trainBytes: number, heldOutBytes: number }>, window: number,
 *   base: { perplexity: Record<string, number> }, loras: Run[], targets: Record<string, Run[]>,
 *   serving: { load: { requests: number, newTokens: number }, rounds: number, adapters: string[], runs: ServingRun[] },
 *   recursive?: import('./adaptersReportRecursive.mjs').Recursive, minutes: { training: number, total: number }, cpuSeconds: number,
 *   runs: { count: number, cached: number, trainingCpuSeconds: number },
 *   loadAverage: { before: number[], after: number[] } }} Results
 */

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
    '## Per target domain (stories260K)',
    '',
    ...Object.entries(r.targets).flatMap(([target, runs]) =>
      targetTable(target, /** @type {Run[]} */ (runs), r.base.perplexity, domains),
    ),
    '## Readings (stories260K)',
    '',
    ...readings(r, domains).map((s) => `- ${s}`),
    '',
    '## Serving (stories260K)',
    '',
    `The same mixed load (${r.serving.load.requests} requests, ${r.serving.load.newTokens} greedy tokens each, EOS ignored, adapters round-robin) through the serving engine on the fused wasm kernels, 1 thread (tooling/bench/adapterServing.mjs), ${r.serving.rounds} interleaved round(s) after one discarded warm-up serve. Adapters, in order: ${r.serving.adapters.join(', ')}.`,
    '',
    '| adapters | tokens/s: median (per round) | tokens per CPU-second: median (per round) |',
    '|---:|---|---|',
    ...servingRows(r.serving.runs),
    '',
    ...recursiveSection(r.recursive, r, domains),
  ];
  return `${lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n')}\n`;
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

/** Sentences computed from the numbers: the stories260K grid and serving. @param {Results} r @param {string[]} domains */
export function readings(r, domains) {
  return [...gridReadings(r, domains), ...servingReadings(r.serving.runs)];
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
