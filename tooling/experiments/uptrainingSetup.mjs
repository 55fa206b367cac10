// What every PyTorch uptraining run needs before the first one starts, shared by `pnpm experiment:uptraining` (the
// grid) and `pnpm experiment:payoff` (its one run of the paper's recipe), so both read the same cached runs: a
// python that imports torch, the corpus the original wrote itself (`recur sample-corpus`, sequence-level
// distillation, Kim & Rush 2016) as token ids, the original exported for PyTorch (the distillation teacher) and
// the held-out text each run's per-loop perplexity is scored on. Everything lands in the cache folder.
// Env (both experiments): UPTRAIN_CORPUS_TOKENS (default 1e6), UPTRAIN_HELDOUT_BYTES (default 1e5), RECUR_PYTHON
// (default /usr/bin/python3), UPTRAIN_BLAS_DIR (a folder with an OpenBLAS libblas.so.3, put on LD_LIBRARY_PATH).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { exportTorch } from '../../packages/engine/dist/node.js';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */

/**
 * Debian's OpenBLAS (`apt-get install libopenblas0-pthread`), used when UPTRAIN_BLAS_DIR is unset: a torch linked to
 * the reference BLAS multiplies ≈ 20× slower (measured 2 vs 37 GFLOP/s on one core here), ≈ 2–3× slower uptraining.
 */
const DEBIAN_OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-pthread';

/** The uptraining data settings from the environment: one default for both experiments, so their runs agree. */
export function uptrainingEnv() {
  const blas =
    process.env.UPTRAIN_BLAS_DIR ?? (existsSync(`${DEBIAN_OPENBLAS}/libblas.so.3`) ? DEBIAN_OPENBLAS : undefined);
  return {
    corpusTokens: Number(process.env.UPTRAIN_CORPUS_TOKENS ?? 1_000_000),
    corpusSeed: 0,
    heldOutBytes: Number(process.env.UPTRAIN_HELDOUT_BYTES ?? 100_000),
    window: 256,
    python: process.env.RECUR_PYTHON ?? '/usr/bin/python3',
    blas,
  };
}

/**
 * Prepares the cache and returns the `ctx` uptrainRun takes, plus what the docs state about it (repo-relative
 * paths only: results docs never name a machine's folders).
 * @param {{ root: string, cache: string, source: LoadedModel, sourcePath: string, corpusTokens: number,
 *   corpusSeed: number, heldOutBytes: number, window: number, python: string, blas: string | undefined }} o
 */
export async function uptrainingContext(o) {
  const torch = torchVersion(o.python);
  mkdirSync(o.cache, { recursive: true });
  const corpus = `${o.cache}/teacher-corpus-${o.corpusTokens}-seed${o.corpusSeed}.txt`;
  if (!existsSync(corpus)) sampleCorpus(o, corpus);
  const tokensBin = tokenIds(corpus, o.source.tokenizer);
  const teacherDir = `${o.cache}/teacher-torch`;
  if (!existsSync(`${teacherDir}/config.json`)) await exportTorch(o.source, teacherDir);
  const heldOut = readFileSync(`${o.root}../shared/corpora/tinystories_val/tinystories_val.txt`, 'utf8').slice(
    0,
    o.heldOutBytes,
  );
  /** @type {Record<string, string>} */
  const env = o.blas ? { LD_LIBRARY_PATH: o.blas } : {};
  return {
    ctx: { cache: o.cache, source: o.source, teacherDir, tokensBin, heldOut, window: o.window, python: o.python, env },
    corpus,
    about: {
      python: `${basename(o.python)} with torch ${torch}`,
      blas: o.blas ? `OpenBLAS on LD_LIBRARY_PATH (…/${basename(o.blas)})` : 'as torch links it',
      heldOut: {
        file: '../shared/corpora/tinystories_val/tinystories_val.txt',
        bytes: o.heldOutBytes,
        window: o.window,
      },
    },
  };
}

/**
 * torch's version as `python` imports it; a clear error naming RECUR_PYTHON when it cannot.
 * @param {string} python
 */
export function torchVersion(python) {
  const run = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (run.status !== 0)
    throw new Error(
      `RECUR_PYTHON=${python}: cannot import torch (install python3-torch, or point RECUR_PYTHON at a python with torch)`,
    );
  return run.stdout.trim();
}

/**
 * `recur sample-corpus` (the CLI, for its progress bar) writes the original's own text, 128 sequences a step — or
 * fewer for a corpus of fewer than 128 documents of ≤ 256 tokens (a smoke run's), which would decode mostly waste.
 * @param {{ root: string, sourcePath: string, corpusTokens: number, corpusSeed: number }} o @param {string} corpus
 */
function sampleCorpus(o, corpus) {
  console.log(`sampling ${o.corpusTokens} teacher tokens into ${basename(corpus)} (recur sample-corpus)`);
  const cli = `${o.root}apps/cli/dist/recur.js`;
  const args = ['sample-corpus', '--model', o.sourcePath, '--out', corpus, '--tokens', String(o.corpusTokens)];
  const batch = Math.min(128, Math.ceil(o.corpusTokens / 256));
  execFileSync(process.execPath, [cli, ...args, '--batch', String(batch), '--seed', String(o.corpusSeed)], {
    stdio: 'inherit',
  });
}

/**
 * The corpus as raw int32 token ids beside it (uptrain_recur.py's `--tokens`), written once.
 * @param {string} corpus @param {LoadedModel['tokenizer']} tokenizer
 */
export function tokenIds(corpus, tokenizer) {
  const bin = `${corpus}.ids.bin`;
  if (existsSync(bin)) return bin;
  // Documents are blank-line separated; each starts with BOS, as Recur's trainer reads them.
  const docs = readFileSync(corpus, 'utf8')
    .split(/\n\s*\n/)
    .filter((d) => d.trim());
  const ids = Int32Array.from(docs.flatMap((d) => tokenizer.encode(d.trim(), { addBos: true })));
  writeFileSync(`${bin}.tmp`, Buffer.from(ids.buffer));
  renameSync(`${bin}.tmp`, bin);
  return bin;
}
