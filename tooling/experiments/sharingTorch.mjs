// SHARING_PATH=pytorch for `pnpm experiment:sharing`: a row uptrained by PyTorch instead of Recur's own trainer, through
// the same runner as experiment:uptraining (torchUptrain.mjs: export --torch, uptrain_recur.py, reload). Every sharing
// form goes out in its stored form (scaled templates and scales, hyper generators and embeddings, MoS pools, MASA
// atoms and coefficients), so PyTorch trains the parameterisation Recur stores. What reaches the 5M-token budget of
// the payoff issue on this machine (≈ 4,000 tokens/s on one core with OpenBLAS).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { disposeModel } from '../../packages/engine/dist/index.js';
import { exportTorch } from '../../packages/engine/dist/node.js';
import { torchUptrain } from './torchUptrain.mjs';
import { tokenIds, torchVersion, uptrainingEnv } from './uptrainingSetup.mjs';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */

/** The training path of the rows: Recur's tfjs trainer (default) or PyTorch. */
export function sharingPath() {
  const path = process.env.SHARING_PATH ?? 'recur';
  if (path !== 'recur' && path !== 'pytorch')
    throw new RangeError(`SHARING_PATH must be recur or pytorch, got '${path}'`);
  return path;
}

/** What the doc states about the PyTorch path (no machine's folders). */
export function torchPathAbout() {
  const { python, blas } = uptrainingEnv();
  return {
    python: `${python.split('/').pop()} with torch ${torchVersion(python)}`,
    blas: blas ? `OpenBLAS on LD_LIBRARY_PATH (…/${blas.split('/').pop()})` : 'as torch links it',
    threads: 1,
  };
}

/**
 * One row through PyTorch: the teacher exported once beside the model's runs, the corpus as int32 ids beside it,
 * then torchUptrain into `run.out` (summary.json there says it finished, as Recur's trainer writes one).
 * @param {LoadedModel} model @param {LoadedModel} teacher
 * @param {{ textFile: string, steps: number, batch: number, seqLen: number, out: string, seed: number, label: string }} run
 * @param {{ distillation: { alpha: number, temperature: number }, trainable: string, peakLr: number, warmupShare: number, minLrRatio: number }} u
 */
export async function torchRow(model, teacher, run, u) {
  const { python, blas } = uptrainingEnv();
  const teacherDir = `${dirname(run.out)}/teacher-torch`;
  if (!existsSync(`${teacherDir}/config.json`)) await exportTorch(teacher, teacherDir);
  mkdirSync(run.out, { recursive: true });
  const result = await torchUptrain(
    model,
    {
      dir: run.out,
      label: run.label,
      python,
      env: blas ? { LD_LIBRARY_PATH: blas } : {},
      tokens: tokenIds(run.textFile, teacher.tokenizer),
      teacherDir,
    },
    {
      steps: run.steps,
      batch: run.batch,
      seq: run.seqLen,
      lr: u.peakLr,
      warmup: Math.max(1, Math.round(run.steps * u.warmupShare)),
      minLrRatio: u.minLrRatio,
      trainable: u.trainable,
      exitLoss: false,
      distillAlpha: u.distillation.alpha,
      distillTemperature: u.distillation.temperature,
      seed: run.seed,
      threads: 1,
    },
  );
  disposeModel(result.trained);
  const summary = {
    steps: run.steps,
    tokens: run.steps * run.batch * run.seqLen,
    modelDir: `${run.out}/trained`,
    cpuSeconds: result.cpuSeconds,
    path: 'pytorch',
  };
  writeFileSync(`${run.out}/summary.json`, JSON.stringify(summary, null, 1));
  return summary;
}
