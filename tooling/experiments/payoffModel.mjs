// The model side of `pnpm experiment:payoff` (issue 15 §4): stories260K converted by the paper's recipe (Average
// init + truncated-SVD depth-wise LoRA, Bae et al. 2024, "Relaxed Recursive Transformers", arXiv 2410.20672, §3) and
// uptrained in PyTorch as experiment:uptraining's run of that recipe (recipeModel: the same cached run, so both docs
// describe one model); then the held-out speed–quality curve of exit rules, each scored exactly as it is served
// (same rule, same KV mode). Recur's own tfjs trainer stays here for what trains on it: the payoff's MoR routers
// (distilledRunOptions, finishedRun), and experiment:adapters' recursive base and experiment:sharing's corpus
// (uptrain, teacherCorpus: a teacher-written corpus, sequence-level distillation, Kim & Rush 2016).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import {
  convertModel,
  disposeModel,
  evaluateDepths,
  parseExitRule,
  sampleCorpus,
} from '../../packages/engine/dist/index.js';
import { heldOutLoss, loadModel, trainModel } from '../../packages/engine/dist/node.js';
import { conversionOf, runDir, uptrainRun } from './uptrainingRun.mjs';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/** @typedef {import('../../packages/engine/dist/node.js').TrainProgress} TrainProgress */
/** @typedef {{ rule: string, kvMode: string, perplexity: number, averageDepth: number, depthCounts: readonly number[], calibrationPerplexity: number, calibrationDepth: number }} CurvePoint */

/**
 * `tokens` tokens of the teacher's own text (temperature 1), cached under `cacheDir` by size and seed.
 * @param {LoadedModel} teacher @param {number} tokens @param {number} seed @param {string} cacheDir
 */
export async function teacherCorpus(teacher, tokens, seed, cacheDir) {
  const file = `${cacheDir}/corpus-${tokens}-seed${seed}.txt`;
  if (existsSync(file)) return { file, seconds: 0, cached: true };
  mkdirSync(cacheDir, { recursive: true });
  const start = performance.now();
  const corpus = await sampleCorpus(teacher, { tokens, maxDocTokens: 255, batch: 32, temperature: 1, seed });
  writeFileSync(`${file}.tmp`, `${corpus.documents.join('\n\n')}\n`);
  renameSync(`${file}.tmp`, file);
  return { file, seconds: (performance.now() - start) / 1000, cached: false };
}

/** The paper's recipe as a run of experiment:uptraining's grid: middle-cycle × 2, Average init, rank-8 SVD LoRA. */
export const recipe = /** @type {const} */ ({ loops: 2, init: 'average', rank: 8 });

/** The recipe's conversion (the public code's floor depth fit, per-loop norms). */
export const conversion = conversionOf(recipe);

/**
 * The payoff's uptrained model: experiment:uptraining's run of the recipe at `seed` for `tokens` tokens — its
 * cached result.json and trained/ folder when that run finished, else trained now (PyTorch) into the same cache.
 * @param {{ seed: number, tokens: number }} budget
 * @param {Parameters<typeof uptrainRun>[1]} ctx
 */
export async function recipeModel({ seed, tokens }, ctx) {
  const config = { ...recipe, seed, tokens };
  const dir = runDir(ctx.cache, config);
  // uptrainRun restarts an unfinished run from scratch; this one may be experiment:uptraining's, training now
  if (existsSync(dir) && !existsSync(`${dir}/result.json`))
    throw new Error(
      `${dir}: this uptraining run has started but not finished (experiment:uptraining may be training it now): wait for its result.json, or delete the folder to train it here`,
    );
  const run = await uptrainRun(config, ctx);
  const model = await loadModel(`${dir}/trained`);
  return { run, model, layers: { source: ctx.source.config.numLayers, ...executedLayers(model) } };
}

/**
 * The trainModel options every training on Recur's trainer here shares (the payoff's routers, `uptrain`):
 * distillation from the teacher (0.5 · T² KL at T = 2 + 0.5 · CE), cosine schedule (peak 2e-3, 5% warmup, floor 0.1 of peak),
 * a 2% held-out split scored once at the end (no mid-run evals or saves), and `stepLine(event)` logged
 * every 25 steps and at the last.
 * @param {number} steps @param {number} seed
 * @param {(event: Extract<TrainProgress, { kind: 'step' }>) => string} stepLine
 */
export function distilledRunOptions(steps, seed, stepLine) {
  return {
    distillation: { alpha: 0.5, temperature: 2 },
    schedule: {
      kind: /** @type {const} */ ('cosine'),
      peakLr: 2e-3,
      warmupSteps: Math.max(1, Math.round(steps / 20)),
      totalSteps: steps,
      minLrRatio: 0.1,
    },
    valFraction: 0.02,
    evalEvery: 0,
    saveEvery: 0,
    evalWindows: 1,
    finalEvalWindows: 1,
    seed,
    /** @param {TrainProgress} event */
    onProgress: (event) => {
      if (event.kind === 'step' && (event.step % 25 === 0 || event.step === event.steps)) console.log(stepLine(event));
    },
  };
}

/**
 * Converts `source` and uptrains it on `textFile` for `tokens` tokens with Recur's own trainer (experiment:adapters'
 * recursive base; the payoff's model is PyTorch's, recipeModel): distillation from the source
 * (0.5 · T² KL at T = 2 + 0.5 · CE), an exit loss on every loop (equal weights), cosine schedule.
 * @param {LoadedModel} source
 * @param {{ textFile: string, tokens: number, batch: number, seqLen: number, out: string, seed: number }} run
 */
export async function uptrain(source, { textFile, tokens, batch, seqLen, out, seed }) {
  const steps = Math.max(1, Math.round(tokens / (batch * seqLen)));
  const finished = await finishedRun(out, steps);
  if (finished)
    return { ...finished, steps, layers: { source: source.config.numLayers, ...executedLayers(finished.model) } };
  const converted = await convertModel(source, conversion);
  rmSync(out, { recursive: true, force: true });
  const result = await trainModel({
    model: converted,
    teacher: source,
    exit: { weights: [1, 1] },
    textFile,
    out,
    steps,
    seqLen,
    batchSize: batch,
    trainable: 'shared+lora',
    ...distilledRunOptions(
      steps,
      seed,
      (event) =>
        `uptrain | step ${event.step}/${event.steps} | loss ${event.loss.toFixed(3)} | ${event.tokensPerSecond.toFixed(0)} tok/s`,
    ),
  });
  disposeModel(converted);
  const trained = await uptrainedRun(result, false);
  return { ...trained, steps, layers: { source: source.config.numLayers, ...executedLayers(trained.model) } };
}

/**
 * A finished run's model, loaded as generate/eval load it, with its speed figures: from trainModel's result
 * or from a reused run's summary.json (the same fields).
 * @param {{ modelDir: string, tokens: number, seconds: number, tokensPerSecond: number }} run @param {boolean} reused
 */
export async function uptrainedRun(run, reused) {
  const model = await loadModel(run.modelDir);
  return { model, tokens: run.tokens, seconds: run.seconds, tokensPerSecond: run.tokensPerSecond, reused };
}

/**
 * A run folder of the same settings that finished (its summary.json written after the model), reused so a
 * failure after the uptraining does not spend the budget again; null when there is none.
 * @param {string} out @param {number} steps
 */
export async function finishedRun(out, steps) {
  if (!existsSync(`${out}/summary.json`)) return null;
  const summary = JSON.parse(readFileSync(`${out}/summary.json`, 'utf8'));
  if (summary.steps !== steps) return null;
  console.log(`uptrain | reusing the finished run in ${out}`);
  return uptrainedRun(summary, true);
}

/** Layers a token runs at full depth and when it leaves after loop 1 (prologue + loops + epilogue). @param {LoadedModel} model */
export function executedLayers(model) {
  const { prologue, loops, epilogue } = model.decoder.loops;
  const block = loops[0]?.length ?? 0;
  return {
    fullDepth: prologue.length + loops.length * block + epilogue.length,
    loop1: prologue.length + block + epilogue.length,
  };
}

/** Held-out perplexity of a plain model (every layer, as sequence-wise serving runs it). @param {LoadedModel} model @param {Int32Array[]} windows */
export function plainPerplexity(model, windows) {
  return Math.exp(heldOutLoss(model.decoder, windows).meanNll);
}

/**
 * One point of the speed–quality curve: `rule` (its name in the curve) is `exitRule` (parseExitRule's syntax)
 * on `model` under `kvMode` — the configuration the serving engine runs.
 * @typedef {{ rule: string, exitRule: string, model: LoadedModel, kvMode: string }} CurveEntry
 */

/**
 * Every entry scored on the scored and the calibration windows, exactly as served (same rule, same KV mode).
 * @param {readonly CurveEntry[]} entries @param {Int32Array[]} scored @param {Int32Array[]} calibration
 * @returns {CurvePoint[]}
 */
export function qualityCurve(entries, scored, calibration) {
  const score = (/** @type {CurveEntry} */ entry, /** @type {Int32Array[]} */ windows) => {
    const ev = evaluateDepths(entry.model, {
      windows: windows.map((w) => Array.from(w)),
      rule: parseExitRule(entry.exitRule),
      kvMode: /** @type {import('../../packages/graph/dist/index.js').DepthKvMode} */ (entry.kvMode),
      perLoop: false,
    });
    if (!ev.policy) throw new Error(`evaluateDepths returned no policy score for ${entry.rule}`);
    return ev.policy;
  };
  return entries.map((entry) => {
    const held = score(entry, scored);
    const cal = score(entry, calibration);
    if (!Number.isFinite(held.perplexity) || !Number.isFinite(cal.perplexity))
      throw new Error(`${entry.rule}: perplexity is not finite (${held.perplexity}, ${cal.perplexity})`);
    console.log(`curve | ${entry.rule} | ppl ${held.perplexity.toFixed(3)} | depth ${held.averageDepth.toFixed(3)}`);
    return {
      rule: entry.rule,
      kvMode: entry.kvMode,
      perplexity: held.perplexity,
      averageDepth: held.averageDepth,
      depthCounts: held.depthCounts,
      calibrationPerplexity: cal.perplexity,
      calibrationDepth: cal.averageDepth,
    };
  });
}

/**
 * The calibrated rule: on the calibration windows only (never the scored ones), the shallowest rule whose
 * perplexity ratio to the source is within `target`; failing that, the rule of lowest calibration perplexity.
 * @param {CurvePoint[]} curve @param {number} sourceCalibrationPpl @param {number} target
 */
export function calibratedRule(curve, sourceCalibrationPpl, target) {
  const within = curve.filter((p) => p.calibrationPerplexity / sourceCalibrationPpl <= target);
  if (within.length > 0) {
    const rule = within.reduce((a, b) => (b.calibrationDepth < a.calibrationDepth ? b : a)).rule;
    return { rule, why: `shallowest rule within ${target}× the source's perplexity on the calibration windows` };
  }
  const rule = curve.reduce((a, b) => (b.calibrationPerplexity < a.calibrationPerplexity ? b : a)).rule;
  return {
    rule,
    why: `no rule reaches ${target}× on the calibration windows; the rule of lowest calibration perplexity`,
  };
}
