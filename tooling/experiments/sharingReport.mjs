// docs/results/sharing.md from sharing.json (pnpm experiment:sharing, issue 17 §4): the table and every reading
// are computed from the json. Re-render alone: `node tooling/experiments/sharingReport.mjs [DIR]` (default docs/results).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Perplexity ratios within this share count as "on par" / "≈" in the readings. */
const parTolerance = 0.02;
/** MASA's on-par test against the source (the paper's "on-par quality"). */
const masaTolerance = 0.05; // also: how close to the tied row the zero-started rows end
/** Above this perplexity ratio to the source a model is called broken as a stand-in for it. */
const brokenRatio = 1.5;

const fmt = (/** @type {number} */ n) => n.toLocaleString('en-US');
const pct = (/** @type {number} */ x) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;

/**
 * The model entries of a sharing.json: `models`, or the whole file when it is the first invocation's flat
 * stories260K-only layout (its "default model: not run" note dropped: the default model now has its own entry).
 * @param {any} json @returns {any[]}
 */
export function modelEntries(json) {
  if (Array.isArray(json.models)) return json.models;
  const { defaultModel: _notRun, ...entry } = json;
  return [{ about: `${entry.model} (../shared/models/stories260K/hf)`, ...entry }];
}

/** The whole document: one section (table and readings) per model. @param {any} json @returns {string} */
export function renderSharing(json) {
  const entries = modelEntries(json);
  const names = entries.map((e) => e.model).join(', ');
  return `# Sharing mechanisms side by side (${names})
${json.smoke ? '\n**Smoke mode**: a tiny end-to-end run of the pipeline; the numbers below mean nothing.\n' : ''}
One section per model, each with its own table and readings computed from it; each model's rows were run by the
command, commit and load stated in its section (sections may come from different invocations of
\`pnpm experiment:sharing\`: a model not named in \`SHARING_MODELS\` keeps its entry). Raw numbers: [sharing.json](sharing.json).

${entries.map(renderModel).join('\n')}${entries.length > 1 ? `\n## Across models (computed from the tables)\n${acrossModels(entries)}` : ''}`;
}

/**
 * Whether the models agree on the best mechanism at each budget (after uptraining), and on MASA's verdict.
 * @param {any[]} entries @returns {string}
 */
function acrossModels(entries) {
  const budgets = /** @type {number[]} */ ([...new Set(entries.flatMap((e) => e.budgets))]);
  const lines = budgets.map((budget) => {
    const bests = entries.map((e) => {
      const field = e.rows.filter((/** @type {any} */ r) => r.budget === budget);
      const best = field.reduce((/** @type {any} */ a, /** @type {any} */ b) =>
        b.perplexityAfter < a.perplexityAfter ? b : a,
      );
      return { model: e.model, mechanism: best.mechanism };
    });
    const same = new Set(bests.map((b) => b.mechanism)).size === 1;
    return `- At ${pct(budget)}: best ${bests.map((b) => `${b.model} **${b.mechanism}**`).join(', ')} — ${same ? 'the models agree' : 'the models disagree'}.`;
  });
  const masa = entries.map((e) => {
    const row = e.rows.find((/** @type {any} */ r) => r.mechanism === 'masa');
    return row ? `${e.model} ${(row.perplexityAfter / e.source.perplexity).toFixed(3)}×` : `${e.model} —`;
  });
  lines.push(`- MASA after uptraining, perplexity over the source's: ${masa.join(', ')}.`);
  const tokens = entries.map((e) => e.uptraining.tokensPerRow);
  if (new Set(tokens).size > 1)
    lines.unshift(
      `- The sections ran different uptraining budgets (${entries.map((e, i) => `${e.model} ${fmt(tokens[i])}`).join(', ')} tokens per row): where they disagree, the budget may be why.`,
    );
  return `${lines.join('\n')}\n`;
}

/** One model's section. @param {any} d @returns {string} */
function renderModel(d) {
  const tied = d.tied.uniqueParameters;
  const line = (/** @type {any} */ r) =>
    `| ${r.label}${r.reused ? ' ↺' : ''} | ${
      r.setting
        ? Object.entries(r.setting)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')
        : '—'
    } | ${fmt(r.uniqueParameters)} (${pct(r.uniqueParameters / tied - 1)}) | ${fmt(r.bytesOnDisk)} | ${r.perplexityBefore.toFixed(3)} | **${r.perplexityAfter.toFixed(3)}** | ${(r.perplexityAfter / d.source.perplexity).toFixed(3)} | ${r.decodeTokensPerCpuSecond.toFixed(0)} | ${r.decodeTokensPerSecond.toFixed(0)} | ${r.decodePath} |`;
  const s = d.source;
  const u = d.uptraining;
  return `## ${d.model}

Source: ${d.about}. Produced by \`${d.command}\` at commit \`${d.commit}\` (${d.date}); machine: ${d.machine} (nproc ${d.nproc}); load average
(1/5/15 min) ${d.loadAverage.before.join(' / ')} before, ${d.loadAverage.after.join(' / ')} after; ${d.minutes.toFixed(1)} wall minutes,
${d.cpuMinutes.toFixed(1)} CPU-minutes in the main process for this model (the decode process not counted${reusedNote(d)}).

**Rows.** Every recursive row is ${d.model} (${fmt(s.uniqueParameters)} parameters, ${s.layers} layers) converted ${d.looping.strategy} × ${d.looping.loops}
(${d.looping.init} init, ${d.looping.norms} norms): the tied model stores **${fmt(tied)}** unique parameters. The budgets are
${d.budgets.map((/** @type {number} */ b) => `${pct(b)} (${fmt(Math.round(tied * (1 + b)))})`).join(' and ')} over it; each mechanism's knob
(rank; MoS rank and public pool; hyper rank and embedding width H) is searched over a grid by converting for real, and the setting taken is,
among those within ±${(100 * d.budgetTolerance).toFixed(1)}% of the budget, the one of highest rank (then the closest), else the closest:
the exact counts are in the table. Depth-wise LoRA starts from the truncated SVD of what tying lost, scaled from the rank-r SVD of the one matrix
that best fits every loop's residual (its template) with least-squares per-loop scales; hyper from its generators fitted to those SVD factors (\`--lora-init svd\`) and, as \`hyper-zero\`,
from G_B = 0 (\`--lora-init zero\`). ${starts(d)} MASA shares every attention projection type (q, k, v, o) of the plain model
as S matrix atoms (truncated SVD of the stacked matrices, not centred).

**Uptraining, the same for every row.** ${fmt(u.tokensPerRow)} tokens (${u.steps} steps × batch ${u.batch} × ${u.seqLen}) of a corpus ${d.corpus.teacher}
wrote itself (temperature 1, seed ${d.seeds.corpus}, \`${d.corpus.file}\`, ${fmt(d.corpus.tokens)} tokens), distilled from the source
(${u.distillation.alpha} · T² KL at T = ${u.distillation.temperature} + ${1 - u.distillation.alpha} · CE), no exit loss (the last loop only), cosine lr
peak ${u.peakLr} (warmup ${100 * u.warmupShare}% of steps, down to ${u.minLrRatio}×), \`${u.trainable}\` trainable (embeddings frozen), seed ${d.seeds.training}.
${trainedBy(u)}
${budgetSentence(d)}

**Held out**: ${d.heldOut.windows} windows of ${d.heldOut.window} tokens (${fmt(d.heldOut.tokens)} predicted tokens) from the ${d.heldOut.split} of the
real TinyStories validation slice (\`${d.heldOut.file}\`), never trained on. **Decode**: batch 1, ${d.decode.promptTokens}-token prompt then
${d.decode.decodeTokens} cached steps on the path \`generate\` takes, ${d.decode.threads} wasm threads, folders interleaved over ${d.decode.rounds} rounds, best round;
tokens per CPU-second of the decoding process (robust to the shared machine's load) and per wall second.${remeasured(d.decode.remeasured)}

| row | setting | unique parameters (vs tied) | bytes on disk | ppl before uptraining | ppl after | after / source | decode tok/CPU-s | decode tok/s | path |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
| source ${d.model} | — | ${fmt(s.uniqueParameters)} (${pct(s.uniqueParameters / tied - 1)}) | ${fmt(s.bytesOnDisk)} | ${s.perplexity.toFixed(3)} | ${s.perplexity.toFixed(3)} (not trained) | 1.000 | ${s.decodeTokensPerCpuSecond.toFixed(0)} | ${s.decodeTokensPerSecond.toFixed(0)} | ${s.decodePath} |
${d.rows.map(line).join('\n')}

**MASA and looping.** ${masaLooping(d.masaLooped)}

### Readings for ${d.model} (computed from the table)
${readings(d)
  .map((r) => `- ${r}`)
  .join('\n')}
`;
}

/** When the decode columns were measured again on their own (`--decode-only`). @param {any} r */
function remeasured(r) {
  if (!r) return '';
  const load = (/** @type {number[]} */ l) => l.join(' / ');
  return ` The decode columns were measured again on their own by \`${r.command}\` at commit \`${r.commit}\` (${r.date}; load average ${load(r.loadAverage.before)} before, ${load(r.loadAverage.after)} after); the rows' training and perplexities are those of the run above.`;
}

/** The row budget against the payoff issue's, and how often it reads the corpus. @param {any} d */
function budgetSentence(d) {
  const u = d.uptraining;
  const passes = u.tokensPerRow / d.corpus.tokens;
  const reads = passes > 1 ? ` Each row reads the corpus ${passes.toFixed(1)} times over.` : '';
  if (u.tokensPerRow >= u.issueTokens)
    return `That is the payoff issue's budget (${fmt(u.issueTokens)} tokens per row).${reads}`;
  return `That is ${(u.tokensPerRow / u.issueTokens).toFixed(3)}× the ${fmt(u.issueTokens)} tokens of the payoff issue: what fits the CPU budget; the ranking
after so short an uptraining says how each mechanism starts, not where it ends.${reads}`;
}

/** Which trainer ran the rows (entries written before SHARING_PATH existed were Recur's). @param {any} u */
function trainedBy(u) {
  if (u.path !== 'pytorch') return "Trained by **Recur's own trainer** (tfjs, `SHARING_PATH=recur`, the default).";
  return `Trained by **PyTorch** (\`SHARING_PATH=pytorch\`: \`recur export --torch\` + \`uptrain_recur.py\`, ${u.torch.python}, BLAS ${u.torch.blas}, ${u.torch.threads} thread; every sharing form in its stored form), each trained folder scored by Recur.`;
}

/** Rows whose finished uptraining run was reused from .cache (same settings, an earlier invocation). @param {any} d */
function reusedNote(d) {
  const reused = d.rows.filter((/** @type {any} */ r) => r.reused).length;
  return reused === 0
    ? ''
    : `; ${reused} of ${d.rows.length} rows, marked ↺, reuse a finished uptraining run of the same settings from another invocation (earlier, or run alongside on the same cache): their training CPU is not in it, their perplexities are measured again`;
}

/** Which of MoS and hyper start at the tied model, read off the data (perplexity before uptraining equal to the tied row's). @param {any} d */
function starts(d) {
  const tied = d.rows.find((/** @type {any} */ r) => r.mechanism === 'tied');
  const names = /** @type {Record<string, string>} */ ({ mos: 'MoS', hyper: 'Hyper', 'hyper-zero': 'Hyper-zero' });
  return Object.keys(names)
    .filter((m) => d.rows.some((/** @type {any} */ r) => r.mechanism === m))
    .map((m) => {
      const rows = d.rows.filter((/** @type {any} */ r) => r.mechanism === m);
      const atTied = rows.every((/** @type {any} */ r) => r.perplexityBefore === tied.perplexityBefore);
      return `${names[m]} ${atTied ? 'starts at the tied model (its perplexity before uptraining is the tied row’s)' : 'starts away from the tied model (its own perplexity before uptraining)'}`;
    })
    .join('; ')
    .concat('.');
}

/**
 * A refusal without the model folder it starts with ("/…/stories260K/hf: …"): results docs name no machine's
 * folders, and the section already says which model it is.
 * @param {string} message
 */
export function withoutFolder(message) {
  return message.replace(/^\/\S*: /, '');
}

/** @param {{ masaOfLooped: string | null, loopedOfMasa: string | null }} m */
function masaLooping(m) {
  const answer = (/** @type {string | null} */ a) => (a === null ? 'allowed' : `refused: “${withoutFolder(a)}”`);
  return `MASA over a looped model: ${answer(m.masaOfLooped)}. Looping a MASA model: ${answer(m.loopedOfMasa)}.${m.masaOfLooped !== null && m.loopedOfMasa !== null ? ' So there is no "MASA looped" row: both ways round `convert` refuses the combination.' : ''}`;
}

/** @param {any} d @returns {string[]} */
function readings(d) {
  const rows = /** @type {any[]} */ (d.rows);
  const tied = rows.find((r) => r.mechanism === 'tied');
  const at = (/** @type {string} */ m, /** @type {number} */ b) =>
    rows.find((r) => r.mechanism === m && r.budget === b);
  const out = [];
  for (const budget of d.budgets) {
    const field = rows.filter((r) => r.budget === budget);
    const best = field.reduce((a, b) => (b.perplexityAfter < a.perplexityAfter ? b : a));
    const worst = field.reduce((a, b) => (b.perplexityAfter > a.perplexityAfter ? b : a));
    out.push(
      `At ${pct(budget)}: best after uptraining is **${best.mechanism}** (ppl ${best.perplexityAfter.toFixed(3)}, ${fmt(best.uniqueParameters)} parameters), worst ${worst.mechanism} (${worst.perplexityAfter.toFixed(3)}); the tied model reaches ${tied.perplexityAfter.toFixed(3)}, so the best buys ${pct(best.perplexityAfter / tied.perplexityAfter - 1)} perplexity over it for ${pct(best.uniqueParameters / tied.uniqueParameters - 1)} parameters; the source is at ${d.source.perplexity.toFixed(3)} (best / source ${(best.perplexityAfter / d.source.perplexity).toFixed(3)}${best.perplexityAfter / d.source.perplexity > brokenRatio ? `: over ${brokenRatio}×, so even the best is still a broken stand-in for the source after this uptraining, and these ratios compare undertrained models` : ''}).`,
    );
  }
  const [low, high] = [Math.min(...d.budgets), Math.max(...d.budgets)];
  const mosLow = at('mos', low);
  const loraHigh = at('lora', high);
  const loraLow = at('lora', low);
  if (mosLow && loraHigh && loraLow) {
    const vsHigh = mosLow.perplexityAfter / loraHigh.perplexityAfter;
    out.push(
      `MoS vs depth-wise LoRA (the paper: MoS ≈ LoRA with ≈ 8× fewer LoRA parameters): MoS at ${pct(low)} (${fmt(mosLow.uniqueParameters - tied.uniqueParameters)} adapter parameters, rank ${mosLow.setting.rank}) is at ${mosLow.perplexityAfter.toFixed(3)} against LoRA at ${pct(high)} (${fmt(loraHigh.uniqueParameters - tied.uniqueParameters)}, rank ${loraHigh.setting.rank}) ${loraHigh.perplexityAfter.toFixed(3)} (ratio ${vsHigh.toFixed(3)}) and LoRA at ${pct(low)} ${loraLow.perplexityAfter.toFixed(3)}: ${vsHigh <= 1 + parTolerance ? `the direction holds here (within ${100 * parTolerance}%, at ${((loraHigh.uniqueParameters - tied.uniqueParameters) / (mosLow.uniqueParameters - tied.uniqueParameters)).toFixed(1)}× fewer adapter parameters)` : `the direction does not hold at this scale and budget (more than ${100 * parTolerance}% worse)`}.`,
    );
  }
  const masa = rows.find((r) => r.mechanism === 'masa');
  if (masa) {
    const ratio = masa.perplexityAfter / d.source.perplexity;
    const before = masa.perplexityBefore / d.source.perplexity;
    out.push(
      `MASA at S = ${masa.setting.atoms} of ${d.source.layers} layers (≈ L/3; the paper: on par with ${'66.7%'} fewer attention parameters) stores ${fmt(masa.uniqueParameters)} parameters (${pct(masa.uniqueParameters / d.source.uniqueParameters - 1)} vs the source; MLPs are not shared, so it sits far above both budgets): perplexity ${before.toFixed(3)}× the source's after conversion, ${ratio.toFixed(3)}× after uptraining — ${ratio <= 1 + masaTolerance ? `on par (within ${100 * masaTolerance}%): the direction holds` : `not on par (over ${100 * masaTolerance}%): the direction does not hold at this scale and budget`}.`,
    );
  }
  for (const m of ['hyper', 'hyper-zero', 'scaled']) {
    const cmp = d.budgets.flatMap((/** @type {number} */ b) => {
      const [x, y] = [at(m, b), at('lora', b)];
      return x && y ? [`${pct(b)}: ${(x.perplexityAfter / y.perplexityAfter).toFixed(3)}`] : [];
    });
    if (cmp.length > 0)
      out.push(`${m} / depth-wise LoRA perplexity at the same budget — ${cmp.join('; ')} (below 1: ${m} better).`);
  }
  const fits = d.budgets.flatMap((/** @type {number} */ b) => {
    const [fit, zero] = [at('hyper', b), at('hyper-zero', b)];
    return fit && zero
      ? [
          `${pct(b)}: ${fit.perplexityBefore.toFixed(3)} vs ${zero.perplexityBefore.toFixed(3)} before, ${fit.perplexityAfter.toFixed(3)} vs ${zero.perplexityAfter.toFixed(3)} after`,
        ]
      : [];
  });
  if (fits.length > 0) out.push(`hyper from its SVD fit vs from zero (G_B = 0), perplexity — ${fits.join('; ')}.`);
  const fromTied = rows.filter((r) => r !== tied && r.perplexityBefore === tied.perplexityBefore);
  if (fromTied.length > 0)
    out.push(
      `Rows that start at the tied model (${fromTied.map((r) => r.label).join(', ')}) end at ${fromTied.map((r) => (r.perplexityAfter / tied.perplexityAfter).toFixed(3)).join(', ')}× the tied row's perplexity after uptraining${fromTied.every((r) => Math.abs(r.perplexityAfter / tied.perplexityAfter - 1) <= masaTolerance) ? ` — all within ${100 * masaTolerance}% of it: their zero-started adapters buy less than that over the tied block, whatever they store` : ''}.`,
    );
  out.push(decodeReading(d, rows));
  return out;
}

/** Decode speeds as measured, with the load they were measured under. @param {any} d @param {any[]} rows */
function decodeReading(d, rows) {
  const recursive = rows.filter((r) => r.mechanism !== 'masa').map((r) => r.decodeTokensPerCpuSecond);
  const sorted = [...recursive].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const paths = [...new Set([d.source, ...rows].map((r) => r.decodePath))].join(', ');
  const loaded = Math.max(...d.loadAverage.before, ...d.loadAverage.after) > 2 * d.nproc;
  return `Decode (path: ${paths}): the recursive rows run ${sorted[0].toFixed(0)}–${sorted[sorted.length - 1].toFixed(0)} tokens per CPU-second (median ${median.toFixed(0)}, ${(median / d.source.decodeTokensPerCpuSecond).toFixed(2)}× the source's ${d.source.decodeTokensPerCpuSecond.toFixed(0)}), MASA ${rows.find((r) => r.mechanism === 'masa')?.decodeTokensPerCpuSecond.toFixed(0) ?? '—'}.${loaded ? ` Measured under a load average above ${2 * d.nproc} on ${d.nproc} cores: the spread between rows of the same shape says how noisy these speeds are; do not read storage-scheme differences into them.` : ''}`;
}

// Re-render alone: node tooling/experiments/sharingReport.mjs [DIR]
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2] ?? fileURLToPath(new URL('../../docs/results', import.meta.url));
  const data = JSON.parse(readFileSync(`${dir}/sharing.json`, 'utf8'));
  writeFileSync(`${dir}/sharing.md.tmp`, renderSharing(data));
  renameSync(`${dir}/sharing.md.tmp`, `${dir}/sharing.md`);
  console.log(`wrote ${dir}/sharing.md`);
}
