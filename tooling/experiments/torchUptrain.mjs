// Uptraining through PyTorch, shared by the experiments that train with it (uptrainingRun.mjs, sharingRun.mjs under
// SHARING_PATH=pytorch): export a converted Recur model with `exportTorch` (every sharing form in its stored form),
// run the folder's uptrain_recur.py on one process, and load the trained folder back into Recur.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { exportTorch, loadModel } from '../../packages/engine/dist/node.js';
import { cpuSecondsWithChildren, loadAverage } from '../bench/record.mjs';

/**
 * @typedef {{ step: number, loss: number, lr: number, tokensPerSecond: number, exitLosses?: number[] }} LogLine
 * @typedef {{ steps: number, batch: number, seq: number, lr: number, warmup: number, minLrRatio: number,
 *   clip?: number, weightDecay?: number, trainable: string, exitLoss: boolean, distillAlpha: number,
 *   distillTemperature: number, seed: number, threads: number, logEvery?: number }} TorchTraining
 */

/**
 * uptrain_recur.py's arguments for one run (cosine schedule, distillation from `teacherDir`).
 * @param {{ modelDir: string, tokens: string, teacherDir: string, out: string }} files @param {TorchTraining} t
 */
export function uptrainArgs(files, t) {
  return [
    `${files.modelDir}/uptrain_recur.py`,
    ...['--model', files.modelDir, '--tokens', files.tokens, '--teacher', files.teacherDir, '--out', files.out],
    ...['--steps', String(t.steps), '--batch', String(t.batch), '--seq', String(t.seq)],
    ...['--lr', String(t.lr), '--schedule', 'cosine', '--warmup', String(t.warmup)],
    ...['--min-lr-ratio', String(t.minLrRatio), '--clip', String(t.clip ?? 0)],
    ...[
      '--weight-decay',
      String(t.weightDecay ?? 0),
      '--trainable',
      t.trainable,
      ...(t.exitLoss ? ['--exit-loss'] : []),
    ],
    ...['--distill-alpha', String(t.distillAlpha), '--distill-temperature', String(t.distillTemperature)],
    ...['--seed', String(t.seed), '--log-every', String(t.logEvery ?? 10), '--threads', String(t.threads)],
  ];
}

/**
 * Exports `model` to `<dir>/converted`, uptrains it into `<dir>/trained` (log in `<dir>/train.log`) and loads the
 * result back; throws naming `label` when python fails. The caller owns (and disposes) `trained`.
 * @param {import('../../packages/engine/dist/index.js').LoadedModel} model
 * @param {{ dir: string, label: string, python: string, env: Record<string, string>, tokens: string, teacherDir: string }} run
 * @param {TorchTraining} training
 */
export async function torchUptrain(model, run, training) {
  await exportTorch(model, `${run.dir}/converted`);
  const args = uptrainArgs(
    { modelDir: `${run.dir}/converted`, tokens: run.tokens, teacherDir: run.teacherDir, out: `${run.dir}/trained` },
    training,
  );
  const loadBefore = loadAverage();
  const cpuBefore = cpuSecondsWithChildren();
  const started = performance.now();
  const child = spawnSync(run.python, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(training.threads), ...run.env },
  });
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuSecondsWithChildren() - cpuBefore; // the python child's, once waited for
  writeFileSync(`${run.dir}/train.log`, `${child.stdout}\n${child.stderr}`);
  if (child.status !== 0)
    throw new Error(`${run.label}: uptrain_recur.py exited ${child.status}: ${child.stderr.slice(-1500)}`);
  /** @type {LogLine[]} */
  const curve = child.stdout
    .split('\n')
    .filter((l) => l.startsWith('{"step"'))
    .map((l) => JSON.parse(l));
  const trained = await loadModel(`${run.dir}/trained`);
  return { trained, curve, seconds, cpuSeconds, loadAverage: { before: loadBefore, after: loadAverage() } };
}
