// pnpm experiment:uptraining — stories260K converted to Relaxed Recursive Transformers (middle-cycle, 2 and 3
// loops, Lower or Average + SVD-LoRA init, LoRA rank 0/8/16/full) and uptrained in PyTorch (`recur export --torch`,
// uptrain_recur.py) on a corpus the original generated (`recur sample-corpus`, sequence-level distillation), with
// cosine lr, early-exit losses on every loop and knowledge distillation from the original; held-out perplexity per
// exit with Recur on the real TinyStories validation documents. (Bae et al. 2024, arXiv 2410.20672, §3.4.)
// Writes docs/results/uptraining.md and .json. Env: UPTRAIN_TOKENS (per run, default 5e6), UPTRAIN_FROM / UPTRAIN_RUNS (grid
// slice [from, runs) of the priority-ordered grid, default all: slices may train in parallel), UPTRAIN_CACHED_ONLY=1
// (report the slice's finished runs and list the rest as not run, training nothing), UPTRAIN_THREADS
// (uptrainingRun.mjs); the data and python settings (UPTRAIN_CORPUS_TOKENS, UPTRAIN_HELDOUT_BYTES, RECUR_PYTHON,
// UPTRAIN_BLAS_DIR) are uptrainingSetup.mjs's, shared with experiment:payoff.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { disposeModel, evaluatePerplexity } from '../../packages/engine/dist/index.js';
import { loadModel } from '../../packages/engine/dist/node.js';
import { tyingPlan } from '../../packages/graph/dist/index.js';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { finished, runKey, training, uptrainRun } from './uptrainingRun.mjs';
import { writeUptrainingReport } from './uptrainingReport.mjs';
import { uptrainingContext, uptrainingEnv } from './uptrainingSetup.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cache = `${root}.cache/uptraining`;
const tokens = Number(process.env.UPTRAIN_TOKENS ?? 5_000_000);
const settings = uptrainingEnv();
/** Priority order (issue 15 §3): the paper's recipe at rank 8 and 0, Lower rank 8, ranks 16/full, ×3, a second seed,
 *  then Lower at ranks 16/full, and ×3 Average + full-rank SVD: it starts as the original exactly (every source layer
 *  recovered), so it measures what the corpus and objective alone do to the original's held-out perplexity; then the
 *  rest of ×3 (the whole grid: ×2 and ×3, ranks 0/8/16/full, Lower and Average). */
/** @type {[2 | 3, 'average' | 'lower', number | 'full', number][]} */
const plan = [
  [2, 'average', 8, 0],
  [2, 'average', 0, 0],
  [2, 'lower', 8, 0],
  [2, 'average', 16, 0],
  [2, 'average', 'full', 0],
  [2, 'lower', 0, 0],
  [3, 'average', 8, 0],
  [3, 'average', 0, 0],
  [2, 'average', 8, 1],
  [2, 'average', 0, 1],
  [2, 'lower', 16, 0],
  [2, 'lower', 'full', 0],
  [3, 'average', 'full', 0],
  [3, 'average', 16, 0],
  [3, 'lower', 8, 0],
  [3, 'lower', 0, 0],
  [3, 'lower', 16, 0],
  [3, 'lower', 'full', 0],
];
/** @type {import('./uptrainingRun.mjs').RunConfig[]} */
const grid = plan
  .slice(Number(process.env.UPTRAIN_FROM ?? 0), Number(process.env.UPTRAIN_RUNS ?? Infinity))
  .map(([loops, init, rank, seed]) => ({ loops, init, rank, seed, tokens }));

await initBackend({ threads: Number(process.env.RECUR_THREADS ?? 2) });
const sourcePath = `${root}../shared/models/stories260K/hf`;
const source = await loadModel(sourcePath);
const { ctx, corpus, about } = await uptrainingContext({ root, cache, source, sourcePath, ...settings });
const original = await evaluatePerplexity(source, ctx.heldOut, { window: ctx.window });
const cachedOnly = process.env.UPTRAIN_CACHED_ONLY === '1';
const runs = [];
/** Grid runs left out under UPTRAIN_CACHED_ONLY (not trained at this budget). */
const notRun = [];
for (const config of grid) {
  if (cachedOnly && !finished(cache, config)) {
    notRun.push(runKey(config));
    continue;
  }
  const run = await uptrainRun(config, ctx);
  const ppl = run.perplexityPerLoop;
  console.log(
    `${run.key}${run.cached ? ' (cached)' : ''}: per-loop ppl ${ppl.afterConversion.map((/** @type {number} */ p) => p.toFixed(2)).join('/')} → ${ppl.afterUptraining.map((/** @type {number} */ p) => p.toFixed(2)).join('/')} (${run.tokensPerSecond.toFixed(0)} tok/s)`,
  );
  // which source layers the converted model runs (floor depth fit: ×2 over 3 shareable layers drops one)
  const plan = tyingPlan(source.decoder.config.numLayers, config.loops, 'middle-cycle', 'floor');
  runs.push({ ...run, sourceLayers: plan.steps.map((s) => s.sourceLayer) });
}
const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
writeUptrainingReport(root, {
  commit,
  date: new Date().toISOString(),
  path: 'pytorch',
  python: about.python,
  blas: about.blas,
  corpus: {
    file: corpus.slice(root.length),
    tokens: settings.corpusTokens,
    seed: settings.corpusSeed,
    teacher: 'stories260K',
  },
  heldOut: { ...about.heldOut, tokens: original.tokens },
  training,
  original: { parameters: source.decoder.parameterCount, perplexity: original.perplexity },
  runs,
  notRun,
});
disposeModel(source);
