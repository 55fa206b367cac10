// One uptraining run of pnpm experiment:uptraining, cached under .cache/uptraining/runs/KEY (KEY names the whole
// config): convert stories260K, export it to PyTorch, uptrain with uptrain_recur.py (cosine, exit losses on every
// loop, distillation from the source) and score held-out perplexity per exit with Recur. A finished run's
// result.json is reused, so the doc can be regenerated without retraining.
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { convertModel, disposeModel, evaluateDepths, perplexityWindows } from '../../packages/engine/dist/index.js';
import { runCache } from './runCache.mjs';
import { torchUptrain } from './torchUptrain.mjs';

/**
 * @typedef {{ loops: number, init: 'average' | 'lower', rank: number | 'full', seed: number, tokens: number }} RunConfig
 */

/** Training settings shared by every run (stated in the doc and the json). */
// Batch 8: on the 2-core machine, batch 8 × 256 trained more tokens per CPU-second than 32 × 256 (smaller
// [B, H, T, T] attention buffers); threads from UPTRAIN_THREADS (default 1: a shared machine's spare cores are
// not spare, and OpenBLAS/OpenMP threads spin-wait when oversubscribed).
export const training = {
  batch: 8,
  seq: 256,
  threads: Number(process.env.UPTRAIN_THREADS ?? 1),
  lr: 1e-3,
  warmupFraction: 0.05,
  minLrRatio: 0.1,
  clip: 1,
  weightDecay: 0.01,
  distillAlpha: 0.5,
  distillTemperature: 2,
  trainable: 'shared+lora',
  exitLoss: true,
};

/** @param {RunConfig} c */
export function runKey(c) {
  return `mc${c.loops}-${c.init}-r${c.rank}-seed${c.seed}-tok${c.tokens}-b${training.batch}x${training.seq}`;
}

/** A run's folder in `cache`: result.json, train.log, converted/ and trained/ (the uptrained Recur model). @param {string} cache @param {RunConfig} c */
export function runDir(cache, c) {
  return `${cache}/runs/${runKey(c)}`;
}

/** Whether run `c` finished in `cache` (its result.json exists). @param {string} cache @param {RunConfig} c */
export function finished(cache, c) {
  return existsSync(`${runDir(cache, c)}/result.json`);
}

/**
 * The conversion a run starts from (Bae et al. 2024, "Relaxed Recursive Transformers", arXiv 2410.20672, §3):
 * middle-cycle (the public code's floor depth fit), per-loop norms, depth-wise LoRA initialised by truncated SVD.
 * @param {Pick<RunConfig, 'loops' | 'init' | 'rank'>} c
 */
export function conversionOf(c) {
  return /** @type {const} */ ({
    strategy: 'middle-cycle',
    loops: c.loops,
    init: c.init,
    ranks: { attention: c.rank, mlp: c.rank },
    loraInit: 'svd',
    norms: 'per-loop',
  });
}

/**
 * @param {RunConfig} config
 * @param {{ cache: string, source: import('../../packages/engine/dist/index.js').LoadedModel, teacherDir: string,
 *   tokensBin: string, heldOut: string, window: number, python: string, env: Record<string, string> }} ctx
 */
export async function uptrainRun(config, ctx) {
  const { dir, cached } = runCache(ctx.cache, runKey(config));
  if (cached) return cached;
  const converted = await convertModel(ctx.source, conversionOf(config));
  const before = perLoop(converted, ctx);
  const parameters = converted.parameters.shared + converted.parameters.lora;
  const steps = Math.ceil(config.tokens / (training.batch * training.seq));
  const { trained, curve, seconds, cpuSeconds, loadAverage } = await torchUptrain(
    converted,
    { dir, label: runKey(config), python: ctx.python, env: ctx.env, tokens: ctx.tokensBin, teacherDir: ctx.teacherDir },
    { ...training, steps, warmup: Math.round(training.warmupFraction * steps), seed: config.seed, logEvery: 10 },
  );
  disposeModel(converted);
  const after = perLoop(trained, ctx);
  disposeModel(trained);
  const result = {
    config,
    key: runKey(config),
    parameters,
    steps,
    trainedTokens: steps * training.batch * training.seq,
    seconds,
    tokensPerSecond: (steps * training.batch * training.seq) / seconds,
    cpuSeconds,
    loadAverage,
    perplexityPerLoop: { afterConversion: before, afterUptraining: after },
    heldOut: { characters: ctx.heldOut.length, window: ctx.window }, // what perplexityPerLoop was scored on
    training, // the settings it trained with, for readers of a cached run
    curve,
  };
  if (after.some((p) => !Number.isFinite(p))) throw new Error(`${runKey(config)}: held-out perplexity is not finite`);
  writeFileSync(`${dir}/result.json.tmp`, JSON.stringify(result, null, 1));
  renameSync(`${dir}/result.json.tmp`, `${dir}/result.json`);
  return { ...result, cached: false };
}

/** Held-out perplexity when every token leaves after loop d (d = 1..N), Recur's `eval --per-loop`. */
function perLoop(
  /** @type {import('../../packages/engine/dist/index.js').LoadedModel} */ model,
  /** @type {{ heldOut: string, window: number }} */ ctx,
) {
  const windows = perplexityWindows(model, ctx.heldOut, ctx.window);
  return evaluateDepths(model, { windows, perLoop: true }).perLoop.map((p) => p.perplexity);
}
