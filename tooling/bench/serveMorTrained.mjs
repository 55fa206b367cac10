// The trained rows of the serve-mor section (issue 14 §5): stories260K converted to middle-cycle × 2 and
// trained a short budget with an expert- and a token-choice MoR router (as `recur train --router` does),
// served by CDB with the router and at full depth (router off, loops ungated), against the source
// stories260K under continuous sequence-wise batching; with held-out perplexity on TinyStories text the
// training never saw (the training file is the corpus's first 600 kB; scoring reads after it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import {
  convertModel,
  disposeModel,
  evaluateDepths,
  evaluatePerplexity,
  parseExitRule,
  perplexityWindows,
  withRouter,
} from '../../packages/engine/dist/index.js';
import { loadModel, trainModel } from '../../packages/engine/dist/node.js';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/** @typedef {import('../../packages/engine/dist/index.js').ServeRequest} ServeRequest */
/** @typedef {import('../../packages/engine/dist/index.js').ServingEngineOptions} ServingEngineOptions */
/** @typedef {{ tokensPerSecond: number, tokensPerCpuSecond: number, p50: number, p99: number, averageDepth: number, rowsPerStep: number }} Measured */
/** @typedef {(model: LoadedModel, requests: readonly ServeRequest[], options: Partial<ServingEngineOptions>, rate: number, seed: number) => Promise<Measured>} RunMode */

const steps = Number(process.env.BENCH_MOR_TRAIN_STEPS ?? 30);
const trainedBytes = 600_000;

/** The model with its router taken off: full depth, loops ungated (what `router: false` serves). @param {LoadedModel} model */
function withoutRouter(model) {
  const { routerParams: _params, ...rest } = model;
  return /** @type {LoadedModel} */ ({ ...rest, ...(model.recur && { recur: { ...model.recur, router: undefined } }) });
}

/** Converts stories260K, adds a router of `kind`, trains `steps` steps on `textFile`; expert thresholds calibrated. */
/** @param {LoadedModel} stories @param {'expert' | 'token'} kind @param {string} textFile @param {string} out */
async function trainRouted(stories, kind, textFile, out) {
  const rec = await convertModel(stories, {
    strategy: 'middle-cycle',
    loops: 2,
    init: 'lower',
    ranks: { attention: 8, mlp: 8 },
    loraInit: 'svd',
    norms: 'per-loop',
  });
  const routed = withRouter(rec, {
    kind,
    kvMode: 'recursion-wise',
    seed: 3,
    ...(kind === 'token' && { balance: /** @type {const} */ ('loss-free') }),
  });
  const result = await trainModel({
    model: routed,
    textFile,
    out,
    steps,
    seqLen: 128,
    batchSize: 8,
    trainable: 'all',
    schedule: {
      kind: 'cosine',
      peakLr: 3e-3,
      warmupSteps: Math.min(4, Math.floor(steps / 4)),
      totalSteps: steps,
      minLrRatio: 0.1,
    },
    valFraction: 0.1,
    evalEvery: 0,
    saveEvery: 0,
    evalWindows: 1,
    finalEvalWindows: 1,
    seed: 0,
    ...(kind === 'expert' && { routerThreshold: /** @type {const} */ ('calibrated') }),
  });
  disposeModel(routed);
  disposeModel(rec);
  return loadModel(result.modelDir);
}

/** Held-out perplexity and average depth of a recursive model under its router, or at full depth. */
/**
 * @param {LoadedModel} model @param {readonly number[][]} windows @param {boolean} routed
 * @returns {{ perplexity: number, averageDepth: number }}
 */
function heldOut(model, windows, routed) {
  const ev = evaluateDepths(routed ? model : withoutRouter(model), {
    windows,
    ...(routed && { rule: parseExitRule('router') }),
  });
  if (routed) return /** @type {{ perplexity: number, averageDepth: number }} */ (ev.policy);
  const last = /** @type {{ depth: number, perplexity: number }} */ (ev.perLoop[ev.perLoop.length - 1]);
  return { perplexity: last.perplexity, averageDepth: last.depth };
}

/**
 * Trains the two router models, serves and scores them; returns the markdown of the trained subsection.
 * @param {{ runMode: RunMode, requests: readonly ServeRequest[], stories: LoadedModel, corpus: string }} ctx
 */
export async function trainedMorSection({ runMode, requests, stories, corpus }) {
  const dir = mkdtempSync(`${os.tmpdir()}/recur-serve-mor-`);
  const textFile = `${dir}/train.txt`;
  writeFileSync(textFile, corpus.slice(0, trainedBytes));
  const heldText = corpus.slice(trainedBytes + 10_000, trainedBytes + 16_000);
  const windows = perplexityWindows(stories, heldText, 64); // the windows evaluatePerplexity scores
  const vanillaPpl = (await evaluatePerplexity(stories, heldText, { window: 64 })).perplexity;
  /** @type {[string, LoadedModel, Partial<ServingEngineOptions>, number][]} */
  const modes = [
    ['stories260K source, continuous sequence-wise', stories, { mode: 'continuous-sequence' }, vanillaPpl],
  ];
  const trained = [];
  for (const kind of /** @type {const} */ (['expert', 'token'])) {
    const model = await trainRouted(stories, kind, textFile, `${dir}/${kind}`);
    trained.push(model);
    const name = `MC×2 MoR ${kind}-choice (${steps} steps)`;
    modes.push([
      `${name}, CDB, full depth`,
      model,
      { mode: 'continuous-depth', router: false },
      heldOut(model, windows, false).perplexity,
    ]);
    const routed = heldOut(model, windows, true);
    console.log(`mor trained | ${kind} | held-out depth ${routed.averageDepth.toFixed(2)}`);
    modes.push([`${name}, CDB, routed`, model, { mode: 'continuous-depth' }, routed.perplexity]);
  }
  // Runs this small take well under a second: best of 3, the modes interleaved (the machine is shared).
  /** @type {Measured[]} */
  const best = [];
  for (let rep = 0; rep < 3; rep++)
    for (const [m, [, model, options]] of modes.entries()) {
      const r = await runMode(model, requests, options, Infinity, 11);
      if (!best[m] || r.tokensPerCpuSecond > /** @type {Measured} */ (best[m]).tokensPerCpuSecond) best[m] = r;
    }
  const lines = [];
  for (const [m, [name, , , ppl]] of modes.entries()) {
    const r = /** @type {Measured} */ (best[m]);
    console.log(
      `mor trained | ${name} | ${r.tokensPerCpuSecond.toFixed(1)} tok/CPU-s | p50 ${r.p50.toFixed(0)} ms | p99 ${r.p99.toFixed(0)} ms | depth ${r.averageDepth.toFixed(2)} | ppl ${ppl.toFixed(2)}`,
    );
    lines.push(
      `| ${name} | ${r.tokensPerSecond.toFixed(1)} | ${r.tokensPerCpuSecond.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.averageDepth.toFixed(2)} | ${ppl.toFixed(2)} |`,
    );
  }
  for (const model of trained) disposeModel(model);
  rmSync(dir, { recursive: true, force: true });
  return `Trained stories260K MoR models: stories260K converted to middle-cycle × 2 (Lower init, rank-8 SVD LoRA,
per-loop norms), given an expert-choice (thresholds calibrated on the held-out split after training) or a
token-choice router (loss-free balancing), recursion-wise KV, and trained ${steps} steps (batch 8 × 128 tokens,
cosine 3e-3, all weights) on the first ${trainedBytes / 1000} kB of TinyStories val. Served on the same workload, each
with its router and at full depth (router off, loops ungated), against the source stories260K. Held-out
perplexity: ${windows.length} windows of 64 tokens from text after ${trainedBytes / 1000 + 10} kB (never trained on), under the router
rule (\`evaluateDepths\`, as \`recur eval\`) or at full depth; the source model by \`evaluatePerplexity\`.
Average depth is of the served generated tokens; best of 3 runs, interleaved.

| model | tokens/s | tokens/CPU-s | p50 ms | p99 ms | avg depth | held-out ppl |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${lines.join('\n')}
`;
}
