// docs/results/uptraining.{md,json} from pnpm experiment:uptraining's runs: every number and every reading below
// is computed from the data (issue 15 §5); the json holds the raw runs, loss curves included. Re-render the .md alone
// from the json: `node tooling/experiments/uptrainingReport.mjs [DIR]` (default docs/results).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAverage, machineDescription } from '../bench/record.mjs';

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
      `| ×${r.config.loops} | ${r.config.init} | ${r.config.rank} | ${r.config.seed} | ${fmt(r.parameters)} | ${fmt(r.trainedTokens)} | ${ppl(r.perplexityPerLoop.afterConversion)} | **${ppl(r.perplexityPerLoop.afterUptraining)}** | ${(last(r.perplexityPerLoop.afterUptraining) / d.original.perplexity).toFixed(3)} | ${r.tokensPerSecond.toFixed(0)} | ${r.loadAverage.before} |`,
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

| loops | init | LoRA rank | seed | unique parameters | trained tokens | per-loop ppl after conversion | per-loop ppl after uptraining | deepest / original | train tok/s | load avg (1/5/15 min) |
| --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | --- |
${rows.join('\n')}

Readings (computed from the table): ${readings(d).join(' ')}

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

/** The issue's three targets, each met or missed, from the runs present. @param {any} d */
function readings(d) {
  const out = [];
  const budget = Math.min(...d.runs.map((/** @type {any} */ r) => r.trainedTokens));
  out.push(
    budget >= 5e6
      ? `Every run trained ≥ 5M tokens (issue 15 §3's budget).`
      : `Budget: ${fmt(budget)} tokens per run, below issue 15 §3's ≥ 5M — these are short-budget numbers, not a verdict on the recipe.`,
  );
  const find = (/** @type {any} */ q) =>
    d.runs.find((/** @type {any} */ r) => Object.entries(q).every(([k, v]) => r.config[k] === v));
  const deep = (/** @type {any} */ r) => last(r.perplexityPerLoop.afterUptraining);
  const r8 = find({ loops: 2, init: 'average', rank: 8, seed: 0 });
  const r0 = find({ loops: 2, init: 'average', rank: 0, seed: 0 });
  if (r8) {
    const ratio = deep(r8) / d.original.perplexity;
    out.push(
      `Target 1 (relaxed rank 8 within 10% of the original): ×2 Average+SVD rank 8 is at ${ratio.toFixed(3)}× the original's perplexity — ${ratio <= 1.1 ? 'met' : 'missed'}.`,
    );
  }
  if (r8 && r0) {
    const r8b = find({ loops: 2, init: 'average', rank: 8, seed: 1 });
    const r0b = find({ loops: 2, init: 'average', rank: 0, seed: 1 });
    const met = deep(r8) < deep(r0);
    let seeds = ' (one seed only)';
    if (r8b && r0b) {
      // the second seed backs the comparison when both seeds agree and the gap exceeds the seed-to-seed spread
      const spread = Math.max(Math.abs(deep(r8) - deep(r8b)), Math.abs(deep(r0) - deep(r0b)));
      const gap = Math.min(Math.abs(deep(r0) - deep(r8)), Math.abs(deep(r0b) - deep(r8b)));
      const agree = deep(r8b) < deep(r0b) === met;
      seeds = `; seed 1: ${deep(r8b).toFixed(3)} vs ${deep(r0b).toFixed(3)}; the smaller gap between ranks (${gap.toFixed(3)}) is ${(gap / Math.max(spread, 1e-9)).toFixed(1)}× the largest seed-to-seed difference (${spread.toFixed(3)})${agree && gap > spread ? ', so the seeds back it' : ', so it is within seed noise'}`;
    }
    out.push(
      `Target 2 (rank 8 better than rank 0): ${deep(r8).toFixed(3)} vs ${deep(r0).toFixed(3)} — ${met ? 'met' : 'missed'}${seeds}.`,
    );
  }
  const ordered = d.runs.filter((/** @type {any} */ r) => {
    const p = r.perplexityPerLoop.afterUptraining;
    return p.every((/** @type {number} */ x, /** @type {number} */ i) => i === 0 || x < p[i - 1]);
  });
  out.push(
    `Target 3 (deeper exits better): ${ordered.length} of ${d.runs.length} runs have per-loop perplexity falling with every loop.`,
  );
  if (d.notRun?.length)
    out.push(
      `Not run at this budget (the grid's remaining configurations): ${d.notRun.map((/** @type {string} */ k) => `\`${k}\``).join(', ')}.`,
    );
  const tps = d.runs.filter((/** @type {any} */ r) => !r.cached).map((/** @type {any} */ r) => r.tokensPerSecond);
  if (tps.length)
    out.push(
      `Training ran at ${Math.min(...tps).toFixed(0)}–${Math.max(...tps).toFixed(0)} tokens/s (wall, teacher forward included).`,
    );
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2] ?? fileURLToPath(new URL('../../docs/results', import.meta.url));
  atomic(`${dir}/uptraining.md`, markdown(JSON.parse(readFileSync(`${dir}/uptraining.json`, 'utf8'))));
  console.log(`wrote ${dir}/uptraining.md`);
}
