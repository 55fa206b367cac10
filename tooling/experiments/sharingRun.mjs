// One row of `pnpm experiment:sharing`: the same uptraining for every mechanism (distillation from the source on
// the teacher-written corpus, same token budget, schedule and seed), held-out perplexity before and after, the
// bytes of the trained folder. A finished run's summary.json is reused, so a failure later does not retrain it.
// SHARING_PATH=pytorch trains each row with PyTorch (sharingTorch.mjs) instead of Recur's trainer.
// Several invocations may share one cache (one per core): a row being trained carries a claim file naming its
// process, and another invocation waits for that row instead of clearing and retraining it.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { disposeModel } from '../../packages/engine/dist/index.js';
import { loadModel, trainModel } from '../../packages/engine/dist/node.js';
import { plainPerplexity } from './payoffModel.mjs';
import { sharingPath, torchRow } from './sharingTorch.mjs';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */

/** The uptraining every row gets (stated in the doc). */
export const uptraining = /** @type {const} */ ({
  distillation: { alpha: 0.5, temperature: 2 },
  trainable: 'shared+lora',
  peakLr: 2e-3,
  warmupShare: 0.05,
  minLrRatio: 0.1,
});

/**
 * Uptrains `model` (converted, not yet trained) into `out` and scores it before and after on `heldOut`.
 * @param {LoadedModel} model @param {LoadedModel} teacher
 * @param {{ textFile: string, steps: number, batch: number, seqLen: number, out: string, seed: number, heldOut: Int32Array[], label: string }} run
 */
export async function uptrainRow(model, teacher, run) {
  const before = finite(plainPerplexity(model, run.heldOut), `${run.label} before uptraining`);
  const cpuStart = process.cpuUsage();
  await finishedElsewhere(run.out);
  const finished = reusable(run.out, run.steps);
  const summary = finished ?? (await claimed(run.out, () => trainRow(model, teacher, run)));
  const cpu = process.cpuUsage(cpuStart);
  const trained = await loadModel(summary.modelDir);
  const after = finite(plainPerplexity(trained, run.heldOut), `${run.label} after uptraining`);
  disposeModel(trained);
  // the PyTorch path trains in a child process: its CPU time is the summary's
  const cpuSeconds = 'cpuSeconds' in summary ? Number(summary.cpuSeconds) : (cpu.user + cpu.system) / 1e6;
  console.log(
    `sharing | ${run.label} | ppl ${before.toFixed(3)} → ${after.toFixed(3)} | ${summary.tokens} tokens${finished ? ' (reused run)' : ` | ${(summary.tokens / cpuSeconds).toFixed(0)} tok/CPU-s`}`,
  );
  return {
    perplexityBefore: before,
    perplexityAfter: after,
    modelDir: summary.modelDir,
    bytesOnDisk: folderBytes(summary.modelDir),
    trainedTokens: summary.tokens,
    // a reused run did not train here: its CPU time is not known
    trainTokensPerCpuSecond: finished ? null : summary.tokens / cpuSeconds,
    reused: Boolean(finished),
  };
}

/**
 * @param {LoadedModel} model @param {LoadedModel} teacher @param {Parameters<typeof recurRow>[2] & { label: string }} run
 * @returns {Promise<{ modelDir: string, tokens: number, cpuSeconds?: number }>}
 */
function trainRow(model, teacher, run) {
  return sharingPath() === 'pytorch' ? torchRow(model, teacher, run, uptraining) : recurRow(model, teacher, run);
}

/** The live process (not this one) training the row in `out`, or null. @param {string} out */
export function claimHolder(out) {
  const file = `${out}.claim`;
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8'));
  if (pid === process.pid || !alive(pid)) return null;
  return pid;
}

/** Waits while another live process trains the row in `out`. @param {string} out */
async function finishedElsewhere(out) {
  let pid = claimHolder(out);
  if (pid !== null) console.log(`sharing | waiting for process ${pid} to finish ${out}`);
  while (pid !== null) {
    await sleep(10_000);
    pid = claimHolder(out);
  }
}

/**
 * Runs `train` holding the claim on `out` (a stale claim of a dead process is taken over).
 * @template T @param {string} out @param {() => Promise<T>} train @returns {Promise<T>}
 */
async function claimed(out, train) {
  const file = `${out}.claim`;
  const holder = claimHolder(out);
  if (holder !== null) throw new Error(`${out} is being trained by process ${holder}`);
  rmSync(file, { force: true }); // a dead process's claim
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(file, String(process.pid), { flag: 'wx' });
  try {
    return await train();
  } finally {
    rmSync(file, { force: true });
  }
}

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * One row through Recur's own trainer (tfjs): its summary.json in `run.out`.
 * @param {LoadedModel} model @param {LoadedModel} teacher
 * @param {{ textFile: string, steps: number, batch: number, seqLen: number, out: string, seed: number }} run
 */
function recurRow(model, teacher, run) {
  return trainModel({
    model,
    teacher,
    distillation: uptraining.distillation,
    textFile: run.textFile,
    out: run.out,
    force: true,
    steps: run.steps,
    seqLen: run.seqLen,
    batchSize: run.batch,
    trainable: uptraining.trainable,
    schedule: {
      kind: 'cosine',
      peakLr: uptraining.peakLr,
      warmupSteps: Math.max(1, Math.round(run.steps * uptraining.warmupShare)),
      totalSteps: run.steps,
      minLrRatio: uptraining.minLrRatio,
    },
    valFraction: 0.02,
    evalEvery: 0,
    saveEvery: 0,
    evalWindows: 1,
    finalEvalWindows: 1,
    seed: run.seed,
  });
}

/** Bytes of every file under `dir` (what the folder costs on disk). @param {string} dir @returns {number} */
export function folderBytes(dir) {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => {
    const path = `${dir}/${entry.name}`;
    return sum + (entry.isDirectory() ? folderBytes(path) : statSync(path).size);
  }, 0);
}

/** @param {number} x @param {string} what */
function finite(x, what) {
  if (!Number.isFinite(x)) throw new Error(`${what}: held-out perplexity is not finite (${x})`);
  return x;
}

/**
 * The summary of a finished run of the same step count in `out`, or null (a partial run is cleared).
 * @param {string} out @param {number} steps
 * @returns {{ modelDir: string, tokens: number } | null}
 */
function reusable(out, steps) {
  if (existsSync(`${out}/summary.json`)) {
    const summary = JSON.parse(readFileSync(`${out}/summary.json`, 'utf8'));
    if (summary.steps === steps && existsSync(summary.modelDir)) return summary;
  }
  rmSync(out, { recursive: true, force: true });
  return null;
}
