// pnpm experiment:uptraining — stories260K converted to Relaxed Recursive Transformers (middle-cycle, 2 and 3
// loops, Lower or Average + SVD-LoRA init, LoRA rank 0/8/16/full) and uptrained in PyTorch (`recur export --torch`,
// uptrain_recur.py) on a corpus the original generated (`recur sample-corpus`, sequence-level distillation), with
// cosine lr, early-exit losses on every loop and knowledge distillation from the original; held-out perplexity per
// exit with Recur on the real TinyStories validation documents. (Bae et al. 2024, arXiv 2410.20672, §3.4.)
// Writes docs/results/uptraining.md and .json. Env: UPTRAIN_TOKENS (per run, default 5e6), UPTRAIN_FROM / UPTRAIN_RUNS (grid
// slice [from, runs) of the priority-ordered grid, default all: slices may train in parallel), UPTRAIN_CORPUS_TOKENS (default 1e6), RECUR_PYTHON (python with torch,
// default /usr/bin/python3), UPTRAIN_HELDOUT_BYTES (default 1e5), UPTRAIN_BLAS_DIR (a folder with an OpenBLAS libblas.so.3, put on LD_LIBRARY_PATH).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { disposeModel, evaluatePerplexity } from '../../packages/engine/dist/index.js';
import { exportTorch, loadModel } from '../../packages/engine/dist/node.js';
import { training, uptrainRun } from './uptrainingRun.mjs';
import { writeUptrainingReport } from './uptrainingReport.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cache = `${root}.cache/uptraining`;
const tokens = Number(process.env.UPTRAIN_TOKENS ?? 5_000_000);
const corpusTokens = Number(process.env.UPTRAIN_CORPUS_TOKENS ?? 1_000_000);
const corpusSeed = 0;
const window = 256;
const heldOutBytes = Number(process.env.UPTRAIN_HELDOUT_BYTES ?? 100_000);
const python = process.env.RECUR_PYTHON ?? '/usr/bin/python3';
const blas = process.env.UPTRAIN_BLAS_DIR;
/** Priority order (issue 15 §3): the paper's recipe at rank 8 and 0, Lower rank 8, ranks 16/full, ×3, a second seed. */
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
];
/** @type {import('./uptrainingRun.mjs').RunConfig[]} */
const grid = plan
  .slice(Number(process.env.UPTRAIN_FROM ?? 0), Number(process.env.UPTRAIN_RUNS ?? Infinity))
  .map(([loops, init, rank, seed]) => ({ loops, init, rank, seed, tokens }));

await initBackend({ threads: Number(process.env.RECUR_THREADS ?? 2) });
mkdirSync(cache, { recursive: true });
const sourcePath = `${root}../shared/models/stories260K/hf`;
const source = await loadModel(sourcePath);
const corpus = `${cache}/teacher-corpus-${corpusTokens}-seed${corpusSeed}.txt`;
if (!existsSync(corpus)) {
  console.log(`sampling ${corpusTokens} teacher tokens into ${corpus} (recur sample-corpus)`);
  const cli = `${root}apps/cli/dist/recur.js`;
  const args = ['sample-corpus', '--model', sourcePath, '--out', corpus, '--tokens', String(corpusTokens)];
  execFileSync(process.execPath, [cli, ...args, '--batch', '128', '--seed', String(corpusSeed)], { stdio: 'inherit' });
}
const tokensBin = `${corpus}.ids.bin`;
if (!existsSync(tokensBin)) {
  // Documents are blank-line separated; each starts with BOS, as Recur's trainer reads them.
  const docs = readFileSync(corpus, 'utf8')
    .split(/\n\s*\n/)
    .filter((d) => d.trim());
  const ids = Int32Array.from(docs.flatMap((d) => source.tokenizer.encode(d.trim(), { addBos: true })));
  writeFileSync(`${tokensBin}.tmp`, Buffer.from(ids.buffer));
  renameSync(`${tokensBin}.tmp`, tokensBin);
}
const teacherDir = `${cache}/teacher-torch`;
if (!existsSync(`${teacherDir}/config.json`)) await exportTorch(source, teacherDir);
const heldOut = readFileSync(`${root}../shared/corpora/tinystories_val/tinystories_val.txt`, 'utf8').slice(
  0,
  heldOutBytes,
);
const original = await evaluatePerplexity(source, heldOut, { window });
/** @type {Record<string, string>} */
const env = blas ? { LD_LIBRARY_PATH: blas } : {};
const ctx = { cache, source, teacherDir, tokensBin, heldOut, window, python, env };
const runs = [];
for (const config of grid) {
  const run = await uptrainRun(config, ctx);
  const ppl = run.perplexityPerLoop;
  console.log(
    `${run.key}${run.cached ? ' (cached)' : ''}: per-loop ppl ${ppl.afterConversion.map((/** @type {number} */ p) => p.toFixed(2)).join('/')} → ${ppl.afterUptraining.map((/** @type {number} */ p) => p.toFixed(2)).join('/')} (${run.tokensPerSecond.toFixed(0)} tok/s)`,
  );
  runs.push(run);
}
const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
writeUptrainingReport(root, {
  commit,
  date: new Date().toISOString(),
  path: 'pytorch',
  python,
  blas: blas ? `OpenBLAS from UPTRAIN_BLAS_DIR (…/${basename(blas)})` : 'as torch links it',
  corpus: { file: corpus.slice(root.length), tokens: corpusTokens, seed: corpusSeed, teacher: 'stories260K' },
  heldOut: {
    file: '../shared/corpora/tinystories_val/tinystories_val.txt',
    bytes: heldOutBytes,
    window,
    tokens: original.tokens,
  },
  training,
  original: { parameters: source.decoder.parameterCount, perplexity: original.perplexity },
  runs,
});
disposeModel(source);
