// docs/results/uptraining.{md,json} from pnpm experiment:uptraining's runs: every number and every reading below
// is computed from the data (issue 15 §5); the json holds the raw runs, loss curves included. Re-render the .md alone
// from the json: `node tooling/experiments/uptrainingReport.mjs [DIR]` (default docs/results).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAverage, machineDescription } from '../bench/record.mjs';
import { readings } from './uptrainingReadings.mjs';

/** @param {string} root @param {any} data */
export function writeUptrainingReport(root, data) {
  const json = { ...data, machine: machineDescription(), loadAverageAtReport: loadAverage() };
  atomic(`${root}docs/results/uptraining.json`, `${JSON.stringify(json, null, 1)}\n`);
  atomic(`${root}docs/results/uptraining.md`, markdown(json));
  console.log('wrote docs/results/uptraining.md and .json');
}

/** @param {string} file @param {string} text */
function atomic(file, text) {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

const fmt = (/** @type {number} */ n) => n.toLocaleString('en-US');
const ppl = (/** @type {number[]} */ ps) => ps.map((p) => p.toFixed(2)).join(' / ');

/** @param {any} d */
function markdown(d) {
  const t = d.training;
  const rows = d.runs.map(
    (/** @type {any} */ r) =>
      `| ×${r.config.loops} | ${r.config.init} | ${r.config.rank} | ${r.config.seed} | ${r.sourceLayers?.join(', ') ?? '—'} | ${fmt(r.parameters)} | ${fmt(r.trainedTokens)} | ${ppl(r.perplexityPerLoop.afterConversion)} | **${ppl(r.perplexityPerLoop.afterUptraining)}** | ${(last(r.perplexityPerLoop.afterUptraining) / d.original.perplexity).toFixed(3)} | ${r.tokensPerSecond.toFixed(0)} | ${r.loadAverage.before} |`,
  );
  const curves = d.runs.map((/** @type {any} */ r) => `- ${r.key}: ${curve(r.curve)}`);
  return `# Uptraining a Relaxed Recursive stories260K (PyTorch path)

Produced by \`pnpm experiment:uptraining\` at commit \`${d.commit.slice(0, 12)}\` (${d.date.slice(0, 10)}, ${d.machine}; load average at report ${d.loadAverageAtReport}).
Trained by **PyTorch** (\`recur export --torch\` + \`uptrain_recur.py\`, ${basename(d.python)}, BLAS ${d.blas}); evaluated by Recur. Raw numbers: [uptraining.json](uptraining.json).

stories260K (${fmt(d.original.parameters)} parameters, 5 layers) converted to middle-cycle (first and last layer unique, the middle
looped; \`--depth-fit floor\`), per-loop norms, depth-wise LoRA by SVD of what tying lost. Uptraining data: ${fmt(d.corpus.tokens)} tokens
the original generated (\`recur sample-corpus\`, seed ${d.corpus.seed}, \`${d.corpus.file}\`), read cyclically (from token 0 at seed 0; a seed > 0 starts at a seeded offset, so a second seed sees differently cut windows). Objective: early-exit loss on
every loop (equal weights), each exit distilled from the original (alpha ${t.distillAlpha} · T² KL at T = ${t.distillTemperature} + ${1 - t.distillAlpha} · CE).
AdamW (peak lr ${t.lr}, cosine to ${t.minLrRatio}×, warmup ${t.warmupFraction * 100}% of steps, weight decay ${t.weightDecay}, clip ${t.clip}),
${t.trainable} trained, batch ${t.batch} × ${t.seq} tokens. Held-out: the first ${fmt(d.heldOut.bytes)} bytes of the real TinyStories validation
slice (never trained on), windows of ${d.heldOut.window} tokens, ${fmt(d.heldOut.tokens)} predicted tokens. Per-loop perplexity: every token
leaves after loop 1, 2, … (exit = epilogue + head), shallowest first.

Original stories260K: held-out perplexity **${d.original.perplexity.toFixed(3)}**.

| loops | init | LoRA rank | seed | source layers run | unique parameters | trained tokens | per-loop ppl after conversion | per-loop ppl after uptraining | deepest / original | train tok/s | load avg (1/5/15 min) |
| --- | --- | ---: | ---: | --- | ---: | ---: | --- | --- | ---: | ---: | --- |
${rows.join('\n')}

Readings (computed from the table):
${readings(d)
  .map((line) => `- ${line}`)
  .join('\n')}

Training loss (all exits, weighted) at 0%, 25%, 50%, 75% and 100% of each run, per-exit losses at the end:
${curves.join('\n')}
`;
}

/** @param {any[]} c */
function curve(c) {
  if (c.length === 0) return 'no log';
  const at = [0, 0.25, 0.5, 0.75, 1].map((f) => c[Math.min(c.length - 1, Math.round(f * (c.length - 1)))]);
  return `${at.map((l) => l.loss.toFixed(3)).join(' → ')} (exits ${
    last(c)
      .exitLosses?.map((/** @type {number} */ x) => x.toFixed(3))
      .join(' / ') ?? '—'
  })`;
}

/** @template T @param {T[]} xs @returns {T} */
function last(xs) {
  return /** @type {T} */ (xs[xs.length - 1]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2] ?? fileURLToPath(new URL('../../docs/results', import.meta.url));
  atomic(`${dir}/uptraining.md`, markdown(JSON.parse(readFileSync(`${dir}/uptraining.json`, 'utf8'))));
  console.log(`wrote ${dir}/uptraining.md`);
}
