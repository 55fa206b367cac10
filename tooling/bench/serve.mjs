// pnpm bench:serve — the serving engine under Poisson arrivals: one request at a time, static batching,
// continuous sequence-wise batching of the vanilla model, and continuous depth-wise batching (CDB) of
// recursive conversions with and without early exit. Records a table, a profile and an SVG chart in
// docs/benchmarks.md (section "serve"), then the MoR router rows (serveMor.mjs, section "serve-mor").
// BENCH_SERVE_QUICK=1 runs a smaller workload; BENCH_SERVE_ONLY=mor runs only the MoR rows (a few minutes;
// with the trained stories260K MoR rows of serveMorTrained.mjs; BENCH_MOR_TRAIN_STEPS sets their budget).
import { readFileSync, writeFileSync } from 'node:fs';
import {
  convertModel,
  disposeModel,
  evaluateDepths,
  evaluatePerplexity,
  parseExitRule,
  perplexityWindows,
} from '../../packages/engine/dist/index.js';
import { loadModel } from '../../packages/engine/dist/node.js';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { lineChartSvg } from '../../packages/train/dist/index.js';
import { machineDescription, recordSection, root } from './record.mjs';
import { morSection } from './serveMor.mjs';
import { presetModel, requestsFrom, servingRun } from './serveRun.mjs';

const quick = process.env.BENCH_SERVE_QUICK === '1';
const only = process.env.BENCH_SERVE_ONLY;
if (only !== undefined && only !== 'mor') throw new Error(`BENCH_SERVE_ONLY=${only}: the only subset is "mor"`);
const shared = `${root}../shared/`;
const corpus = readFileSync(`${shared}corpora/tinystories_val/tinystories_val.txt`, 'utf8');
/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/**
 * @typedef {{
 *   name: string,
 *   model: 'vanilla' | 'rec' | 'rec5',
 *   serving: import('../../packages/engine/dist/index.js').ServingMode,
 *   rule?: string,
 *   staticBatch?: number,
 *   ppl?: false,
 * }} Mode
 */
const limits = { maxRowsPerStep: 32, tokenBudgetPerStep: 256, prefillChunk: 32 };

const runMode = servingRun(limits);
const workload = (
  /** @type {LoadedModel['tokenizer']} */ tokenizer,
  /** @type {number} */ count,
  /** @type {number} */ seed,
) => requestsFrom(corpus, tokenizer, count, seed);

/**
 * Held-out perplexity (text after 600 kB): plain models by evaluatePerplexity, recursive ones under their exit rule.
 */
/** @param {LoadedModel} model @param {string | undefined} rule @param {number} windows */
async function heldOutPerplexity(model, rule, windows) {
  const text = corpus.slice(600_000, 600_000 + 6_000);
  if (!model.recur) return (await evaluatePerplexity(model, text, { window: 64 })).perplexity;
  const w = perplexityWindows(model, text, 64).slice(0, windows);
  const ev = evaluateDepths(model, { windows: w, ...(rule && { rule: parseExitRule(rule) }) });
  // a rule gives `policy`
  const evaluation = /** @type {{ perplexity: number }} */ (rule ? ev.policy : ev.perLoop[ev.perLoop.length - 1]);
  return evaluation.perplexity;
}

/** The bench's rules are all maxprob/fixed, whose ExitRule is a policy. @param {string | undefined} rule */
const exitOf = (rule) =>
  rule
    ? {
        exit: /** @type {Extract<import('../../packages/engine/dist/index.js').ExitRule, { kind: 'policy' }>} */ (
          parseExitRule(rule)
        ).policy,
      }
    : {};

/**
 * Every mode at every rate. The cores are shared with other work, so with all requests at once each mode
 * runs `repeats` times, the modes interleaved (A B C … A B C …), and the best run counts.
 */
/**
 * @param {{
 *   label: string,
 *   models: { tokenizer: LoadedModel['tokenizer'] } & Partial<Record<Mode['model'], LoadedModel>>,
 *   modes: Mode[],
 *   rates: number[],
 *   count: number,
 *   pplWindows: number,
 *   repeats?: number,
 * }} family
 * @returns {Promise<ServeRow[]>}
 */
async function family({ label, models, modes, rates, count, pplWindows, repeats = 1 }) {
  const requests = workload(models.tokenizer, count, 7);
  /** @type {number[]} */
  const ppl = [];
  for (const mode of modes)
    ppl.push(
      mode.ppl === false
        ? NaN
        : await heldOutPerplexity(/** @type {LoadedModel} */ (models[mode.model]), mode.rule, pplWindows),
    );
  /** @type {ServeRow[]} */
  const rows = [];
  for (const rate of rates) {
    const best = new Array(modes.length);
    for (let rep = 0; rep < (Number.isFinite(rate) ? 1 : repeats); rep++) {
      for (const [m, mode] of modes.entries()) {
        const options = {
          mode: mode.serving,
          ...exitOf(mode.rule),
          ...(mode.staticBatch && { staticBatch: mode.staticBatch }),
        };
        const r = await runMode(/** @type {LoadedModel} */ (models[mode.model]), requests, options, rate, 11);
        if (!best[m] || r.tokensPerCpuSecond > best[m].tokensPerCpuSecond) best[m] = r;
      }
    }
    modes.forEach((mode, m) => {
      const r = best[m];
      const modePpl = /** @type {number} */ (ppl[m]);
      console.log(
        `${label} | ${mode.name} | rate ${rate} | ${r.tokensPerSecond.toFixed(1)} tok/s | ${r.tokensPerCpuSecond.toFixed(1)} tok/CPU-s | p50 ${r.p50.toFixed(0)} ms | p99 ${r.p99.toFixed(0)} ms | depth ${r.averageDepth.toFixed(2)} | ppl ${modePpl.toFixed(2)} | rows/step ${r.rowsPerStep.toFixed(1)} | steps ${r.steps} | other ${r.otherMs.toFixed(2)} ms/step`,
      );
      rows.push({ family: label, mode: mode.name, rate, ppl: modePpl, ...r });
    });
  }
  const order = new Map(modes.map((mode, m) => [mode.name, m]));
  return rows.sort(
    (x, y) =>
      /** @type {number} */ (order.get(x.mode)) - /** @type {number} */ (order.get(y.mode)) ||
      (Number.isFinite(x.rate) ? x.rate : Infinity) - (Number.isFinite(y.rate) ? y.rate : Infinity),
  );
}

await initBackend();
const stories = await loadModel(`${shared}models/stories260K/hf`);
const tokenizer = stories.tokenizer;
/** The MoR rows, recorded in their own section. */
async function recordMor() {
  recordSection(
    'serve-mor',
    await morSection({
      runMode,
      requests: workload(tokenizer, quick ? 8 : 12, 7),
      stories,
      corpus,
      limits,
      machine: machineDescription(),
    }),
  );
}
if (only === 'mor') {
  await recordMor();
  disposeModel(stories);
  process.exit(0);
}
const storiesRec = await convertModel(stories, {
  strategy: 'middle-cycle',
  loops: 2,
  init: 'lower',
  ranks: { attention: 8, mlp: 8 },
  loraInit: 'svd',
  norms: 'per-loop',
});
// CYCLE × 5: one shared layer looped five times (Average init), the deepest recursion stories260K allows.
const storiesC5 = await convertModel(stories, {
  strategy: 'cycle',
  loops: 5,
  init: 'average',
  ranks: { attention: 8, mlp: 8 },
  loraInit: 'svd',
  norms: 'per-loop',
});
/**
 * @typedef {{ family: string, mode: string, rate: number, ppl: number } & Awaited<ReturnType<typeof runMode>>} ServeRow
 */
/** @type {ServeRow[]} */
const rows = [];
rows.push(
  ...(await family({
    label: 'stories260K',
    count: quick ? 16 : 48,
    pplWindows: 8,
    repeats: 2,
    rates: quick ? [Infinity] : [50, 200, Infinity],
    models: { tokenizer, vanilla: stories, rec: storiesRec, rec5: storiesC5 },
    modes: [
      { name: 'vanilla, one at a time', model: 'vanilla', serving: 'one-at-a-time' },
      { name: 'vanilla, static batch 16', model: 'vanilla', serving: 'static', staticBatch: 16 },
      { name: 'vanilla, continuous sequence-wise', model: 'vanilla', serving: 'continuous-sequence' },
      { name: 'MC×2 rank-8 LoRA, continuous sequence-wise', model: 'rec', serving: 'continuous-sequence' },
      { name: 'MC×2 rank-8 LoRA, CDB, no exit', model: 'rec', serving: 'continuous-depth' },
      {
        name: 'MC×2 rank-8 LoRA, CDB, exit maxprob:0.5',
        model: 'rec',
        serving: 'continuous-depth',
        rule: 'maxprob:0.5',
      },
      {
        name: 'MC×2 rank-8 LoRA, CDB, exit maxprob:0.2',
        model: 'rec',
        serving: 'continuous-depth',
        rule: 'maxprob:0.2',
      },
      { name: 'C×5 rank-8 LoRA, CDB, no exit', model: 'rec5', serving: 'continuous-depth' },
      {
        name: 'C×5 rank-8 LoRA, CDB, exit maxprob:0.5',
        model: 'rec5',
        serving: 'continuous-depth',
        rule: 'maxprob:0.5',
      },
    ],
  })),
);
disposeModel(storiesRec);
disposeModel(storiesC5);

// SmolLM-135M shape, random weights: decode is memory-bound here, which is where sharing a weight read
// across depths pays. Confidence exits mean nothing on random weights, so exits are fixed depths.
const preset = presetModel('smollm-135m', tokenizer);
const presetRec = await convertModel(preset, {
  strategy: 'cycle',
  loops: 3,
  init: 'stepwise',
  ranks: { attention: 0, mlp: 0 },
  loraInit: 'zero',
  norms: 'tied',
});
rows.push(
  ...(await family({
    label: 'SmolLM-135M shape (random weights)',
    count: quick ? 8 : 16,
    pplWindows: 0,
    repeats: 2,
    rates: quick ? [Infinity] : [4, Infinity],
    models: { tokenizer, vanilla: preset, rec: presetRec },
    modes: [
      {
        name: 'vanilla 30 layers, continuous sequence-wise',
        model: 'vanilla',
        serving: 'continuous-sequence',
        ppl: false,
      },
      {
        name: 'cycle×3 (10-layer block), continuous sequence-wise',
        model: 'rec',
        serving: 'continuous-sequence',
        ppl: false,
      },
      { name: 'cycle×3, CDB, no exit', model: 'rec', serving: 'continuous-depth', ppl: false },
      { name: 'cycle×3, CDB, exit fixed:2', model: 'rec', serving: 'continuous-depth', rule: 'fixed:2', ppl: false },
      { name: 'cycle×3, CDB, exit fixed:1', model: 'rec', serving: 'continuous-depth', rule: 'fixed:1', ppl: false },
    ],
  })),
);
disposeModel(presetRec);
preset.decoder.dispose();
disposeModel(stories);

const fmtRate = (/** @type {number} */ r) => (Number.isFinite(r) ? `${r}/s` : 'all at once');
const table = rows.map(
  (r) =>
    `| ${r.family} | ${r.mode} | ${fmtRate(r.rate)} | ${r.tokensPerSecond.toFixed(1)} | ${r.tokensPerCpuSecond.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.averageDepth.toFixed(2)} | ${Number.isFinite(r.ppl) ? r.ppl.toFixed(2) : '—'} | ${r.rowsPerStep.toFixed(1)} |`,
);
const burst = rows.filter((r) => !Number.isFinite(r.rate));
const phases = ['embed', 'norm', 'qkv', 'rope', 'attention', 'oProj', 'gateUp', 'silu', 'down', 'head'];
const profile = burst.map(
  (r) =>
    `| ${r.family} | ${r.mode} | ${r.steps} | ${phases.map((p) => ((r.profile[p] ?? 0) / r.steps).toFixed(2)).join(' | ')} | ${r.otherMs.toFixed(2)} |`,
);
/** @param {string} fam @param {string} a @param {string} b */
const ratio = (fam, a, b) => {
  const x = burst.find((r) => r.family === fam && r.mode === a);
  const y = burst.find((r) => r.family === fam && r.mode === b);
  return x && y
    ? `${(x.tokensPerCpuSecond / y.tokensPerCpuSecond).toFixed(2)} (wall clock ${(x.tokensPerSecond / y.tokensPerSecond).toFixed(2)})`
    : '?';
};

const charts = [
  ['stories260K', 'serve-throughput-stories260k.svg'],
  ['SmolLM-135M shape (random weights)', 'serve-throughput-smollm135m.svg'],
].map(([fam, file]) => {
  const mine = rows.filter((r) => r.family === fam);
  const finite = mine.map((r) => r.rate).filter(Number.isFinite);
  const x = (/** @type {number} */ rate) => (Number.isFinite(rate) ? rate : 2 * Math.max(...finite));
  const series = [...new Set(mine.map((r) => r.mode))].map((mode) => ({
    name: mode,
    points: mine.filter((r) => r.mode === mode).map((r) => /** @type {const} */ ([x(r.rate), r.tokensPerCpuSecond])),
  }));
  writeFileSync(
    `${root}docs/${file}`,
    lineChartSvg(series, {
      title: `${fam}: throughput vs arrival rate (rightmost point: all requests at once)`,
      xLabel: 'arrivals (requests/s)',
      yLabel: 'generated tokens per CPU-second',
      width: 900,
      height: 420,
    }),
  );
  return file;
});

recordSection(
  'serve',
  `## Serving (CDB) (\`pnpm bench:serve\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${machineDescription()}; wasm backend, 1 kernel thread. The same
engine (\`createServingEngine\`, @recur/scheduler plans run on the fused fast path) serves every mode; limits
${JSON.stringify(limits)}. Requests: TinyStories validation paragraphs (first 300 kB), prompt = 8–40 tokens of a
paragraph, output = the paragraph's remaining length clipped to 8–64 tokens (EOS ignored so every mode generates the
same number of tokens), Poisson arrivals at the given rate. Throughput = generated tokens / (first arrival → last
finish); tokens/CPU-s = generated tokens / CPU time of the process over the same span (user + system: what the
engine itself spent, insensitive to other processes taking the cores and to idle gaps between arrivals);
latency = submit → last token. Held-out perplexity: 64-token windows of the validation text after 600 kB
(plain models: \`evaluatePerplexity\`; recursive: \`evaluateDepths\` under the same exit rule, tfjs path, 8 windows).
MC×2 = stories260K converted to MIDDLE-CYCLE × 2 (prologue layer, 2-layer block looped twice, epilogue layer: 6
executed layers vs the vanilla 5; Lower init); C×5 = CYCLE × 5 (one shared layer looped five times; Average init); both
with rank-8 SVD depth-wise LoRA and per-loop norms and **no uptraining** — their perplexity shows what conversion alone
costs. SmolLM-135M shape: random weights (seed 1), so perplexity is meaningless and exits are fixed depths; cycle×3 =
a 10-layer block looped 3 times (Stepwise init, no LoRA).

| model | mode | arrivals | tokens/s | tokens/CPU-s | p50 ms | p99 ms | avg depth | held-out ppl | rows/step |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${table.join('\n')}

Throughput ratios with all requests at once, in tokens per CPU-second of the serving process (the steadier
measure on shared cores; wall-clock ratio in brackets): stories260K C×5 CDB + maxprob:0.5 vs vanilla continuous sequence-wise
**${ratio('stories260K', 'C×5 rank-8 LoRA, CDB, exit maxprob:0.5', 'vanilla, continuous sequence-wise')}×**; MC×2 CDB + maxprob:0.5
**${ratio('stories260K', 'MC×2 rank-8 LoRA, CDB, exit maxprob:0.5', 'vanilla, continuous sequence-wise')}×**, maxprob:0.2
**${ratio('stories260K', 'MC×2 rank-8 LoRA, CDB, exit maxprob:0.2', 'vanilla, continuous sequence-wise')}×**; SmolLM-135M shape CDB
fixed:1 vs vanilla **${ratio('SmolLM-135M shape (random weights)', 'cycle×3, CDB, exit fixed:1', 'vanilla 30 layers, continuous sequence-wise')}×**,
CDB no exit vs vanilla **${ratio('SmolLM-135M shape (random weights)', 'cycle×3, CDB, no exit', 'vanilla 30 layers, continuous sequence-wise')}×**,
CDB no exit vs the same recursive model sequence-wise **${ratio('SmolLM-135M shape (random weights)', 'cycle×3, CDB, no exit', 'cycle×3 (10-layer block), continuous sequence-wise')}×**.

How to read it. A CDB step runs each stored block layer once for rows at every depth, so one weight read (or one
GEMM) serves tokens at different loops, and a slot freed by an exit is refilled in the next step. Per generated
token the work is prologue + (average depth) × block + epilogue + one LM head per readout; the vanilla model
runs all its layers and one head. So without exits CDB costs what the unrolled model costs (cycle×3 no exit ≈
vanilla 30 layers: the same 30 layer passes per token, in three steps instead of one), and the gain comes from
exits: ≈ N / (average depth) on the block, minus the readouts. Confidence exits (maxProb) read out after every
loop a token runs — an epilogue layer and a full LM head each time — which costs as much as ~8 SmolLM-135M
layers (49,152 × 576 head), so 'fixed' exits (no probe) show the ceiling on the random-weight model. On
stories260K (d = 64) a step is dominated by per-row and per-kernel overheads, not by weight reads, so the
shape of the model (executed layers, probes) matters more than sharing; MC×2 even executes 6 layers to the
vanilla 5. Without uptraining, conversion costs a lot of perplexity (MC×2 full depth vs vanilla, and C×5 is
unusable): these rows measure the engine, not a trained recursive model.

Profile (FastProfile, ms per engine step, all requests at once; "other" = wall time not in a kernel phase: scheduler,
row building, sampling, exit decisions, KV copy-forward, event loop):

| model | mode | steps | ${phases.join(' | ')} | other |
| --- | --- | ---: | ${phases.map(() => '---:').join(' | ')} | ---: |
${profile.join('\n')}

${charts.map((f) => `![serving throughput](${f})`).join('\n\n')}
`,
);
console.log(`recorded docs/benchmarks.md (serve) and ${charts.join(', ')}`);
await recordMor();
