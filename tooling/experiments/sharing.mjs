// pnpm experiment:sharing (issue 17 §4) — the ways to share parameters across depth side by side on stories260K:
// plain recursive (tied), depth-wise LoRA (SVD init), MoS, hyper and scaled LoRA at two equal unique-parameter
// budgets over the tied model (sharingRows.mjs), and MASA-attention at S ≈ L/3; every row gets the same
// uptraining (sharingRun.mjs) on one teacher-written corpus; held-out perplexity before and after, unique
// parameters, bytes on disk, decode tokens per CPU-second (sharingDecode.mjs). Writes sharing.json and
// (sharingReport.mjs) sharing.md into docs/results, or SHARING_OUT.
// Env: SHARING_TOKENS (uptraining tokens per row), SHARING_SEED, SHARING_CACHE (default .cache/sharing),
// SHARING_DECODE_THREADS (default 2); `--smoke` (or SHARING_SMOKE=1): a tiny end-to-end run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertMasa, disposeModel } from '../../packages/engine/dist/index.js';
import { loadModel, trainingData } from '../../packages/engine/dist/node.js';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { machineDescription } from '../bench/record.mjs';
import { plainPerplexity, teacherCorpus } from './payoffModel.mjs';
import { renderSharing } from './sharingReport.mjs';
import {
  budgetTolerance,
  convertWith,
  countSettings,
  looping,
  masaAtoms,
  masaAttention,
  masaLoopingAnswers,
  pickSetting,
  settingGrid,
} from './sharingRows.mjs';
import { folderBytes, uptrainRow, uptraining } from './sharingRun.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const smoke = process.argv.includes('--smoke') || process.env.SHARING_SMOKE === '1';
const out = process.env.SHARING_OUT ?? `${root}docs/results`;
const cache = process.env.SHARING_CACHE ?? `${root}.cache/sharing`;
const seed = Number(process.env.SHARING_SEED ?? 0);
const setup = smoke
  ? { batch: 2, seqLen: 32, windows: 2, prompt: 4, decode: 4, rounds: 1 }
  : { batch: 8, seqLen: 128, windows: 32, prompt: 16, decode: 64, rounds: 3 };
const tokens = Number(process.env.SHARING_TOKENS ?? (smoke ? 128 : 24_576));
const steps = Math.max(1, Math.round(tokens / (setup.batch * setup.seqLen)));
const decodeThreads = Number(process.env.SHARING_DECODE_THREADS ?? 2);
const budgets = [0.05, 0.15];
const sourceDir = `${root}../shared/models/stories260K/hf`;
const validationFile = `${root}../shared/corpora/tinystories_val/tinystories_val.txt`;

// the code the rows ran: read before anything trains (a later commit must not claim them)
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
await initBackend({ threads: 1 });
const started = performance.now();
const cpuStarted = process.cpuUsage();
const loadBefore = os.loadavg();
const source = await loadModel(sourceDir);
// the budget's size (at least a few documents: the trainer splits off a validation document)
const corpusTokens = Math.max(steps * setup.batch * setup.seqLen, 1024);
const corpus = await teacherCorpus(source, corpusTokens, seed, `${cache}/corpus`);
console.log(
  `sharing | corpus ${relative(root, corpus.file)} | ${corpus.cached ? 'cached' : `${corpus.seconds.toFixed(0)} s`}`,
);
// Held out: windows from the last 10% of the real TinyStories validation documents (nothing here trains on them).
const data = await trainingData({
  textFile: validationFile,
  tokenizer: source.tokenizer,
  tokenizerIdentity: 'stories260K',
  cacheDir: `${cache}/tokens`,
  seqLen: 128,
  batchSize: 8,
  valFraction: 0.1,
  seed: 0,
});
const heldOut = data.validation.slice(0, setup.windows);
const sourcePerplexity = plainPerplexity(source, heldOut);

const tied = await convertWith(source, null);
const tiedUnique = tied.parameters.shared + tied.parameters.lora;
disposeModel(tied);
const grid = settingGrid(smoke);
/** @type {Record<string, import('./sharingRows.mjs').CountedSetting[]>} */
const counted = {};
for (const [mechanism, settings] of Object.entries(grid)) counted[mechanism] = await countSettings(source, settings);
const plan = [
  { label: 'tied', mechanism: 'tied', budget: null, setting: null },
  ...budgets.flatMap((budget) =>
    Object.keys(grid).map((mechanism) => ({
      label: `${mechanism} +${budget * 100}%`,
      mechanism,
      budget,
      setting: pickSetting(/** @type {any} */ (counted[mechanism]), tiedUnique * (1 + budget)),
    })),
  ),
];
const atoms = masaAtoms(source.config.numLayers);
const run = (/** @type {string} */ key) => ({
  textFile: corpus.file,
  steps,
  batch: setup.batch,
  seqLen: setup.seqLen,
  out: `${cache}/runs/${key}-steps${steps}-b${setup.batch}x${setup.seqLen}-seed${seed}`,
  seed,
  heldOut,
  label: key,
});

const rows = [];
for (const p of plan) {
  const converted = await convertWith(source, p.setting);
  const unique = converted.parameters.shared + converted.parameters.lora;
  const knobs = p.setting ? Object.entries(p.setting.knobs).map(([k, v]) => `${k}=${v}`) : [];
  const key = [p.mechanism, ...knobs].join('-');
  const measured = await uptrainRow(converted, source, run(key));
  disposeModel(converted);
  rows.push({ ...p, setting: p.setting?.knobs ?? null, uniqueParameters: unique, ...measured });
}
const masa = await convertMasa(source, { atoms, modules: masaAttention });
const masaMeasured = await uptrainRow(masa, source, run(`masa-attention-atoms=${atoms}`));
rows.push({
  label: `MASA attention S=${atoms}`,
  mechanism: 'masa',
  budget: null,
  setting: { atoms },
  uniqueParameters: masa.parameters.stored,
  ...masaMeasured,
});
disposeModel(masa);
const masaLooped = await masaLoopingAnswers(source, atoms);

const decodeDirs = [sourceDir, ...rows.map((r) => r.modelDir)];
const decoded = JSON.parse(
  execFileSync(
    process.execPath,
    [
      `${root}tooling/experiments/sharingDecode.mjs`,
      ...[decodeThreads, setup.prompt, setup.decode, setup.rounds].map(String),
      ...decodeDirs,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  ),
);
const speed = (/** @type {number} */ i) => {
  const d = decoded[i];
  return {
    decodePath: d.path,
    decodeTokensPerCpuSecond: d.tokensPerCpuSecond,
    decodeTokensPerSecond: d.tokensPerSecond,
  };
};
const cpu = process.cpuUsage(cpuStarted);

const results = {
  smoke,
  model: 'stories260K',
  defaultModel:
    'not run: the CPU budget (~25 CPU-minutes on a 2-core machine shared by 8 agents) covers stories260K only',
  source: {
    uniqueParameters: source.decoder.parameterCount,
    perplexity: sourcePerplexity,
    bytesOnDisk: folderBytes(sourceDir),
    layers: source.config.numLayers,
    ...speed(0),
  },
  tied: { uniqueParameters: tiedUnique },
  looping,
  budgets,
  budgetTolerance,
  rows: rows.map((r, i) => ({ ...r, modelDir: relative(root, r.modelDir), ...speed(i + 1) })),
  masaLooped,
  uptraining: {
    ...uptraining,
    tokensPerRow: steps * setup.batch * setup.seqLen,
    steps,
    batch: setup.batch,
    seqLen: setup.seqLen,
    issueTokens: 5_000_000,
    exitLoss: false,
  },
  corpus: { file: relative(root, corpus.file), tokens: corpusTokens, teacher: 'stories260K', temperature: 1 },
  heldOut: {
    file: relative(root, validationFile),
    windows: heldOut.length,
    window: 128,
    tokens: heldOut.reduce((n, w) => n + w.length - 1, 0),
    split: 'last 10% of the documents',
  },
  decode: { threads: decodeThreads, promptTokens: setup.prompt, decodeTokens: setup.decode, rounds: setup.rounds },
  seeds: { corpus: seed, training: seed, mos: 0, conversion: 0 },
  commit,
  command: smoke
    ? 'node tooling/experiments/sharing.mjs --smoke'
    : `SHARING_TOKENS=${tokens} nice -n 10 pnpm experiment:sharing`,
  date: new Date().toISOString(),
  machine: machineDescription(),
  nproc: os.cpus().length,
  minutes: (performance.now() - started) / 60000,
  cpuMinutes: (cpu.user + cpu.system) / 60e6,
  loadAverage: {
    before: loadBefore.map((x) => Number(x.toFixed(2))),
    after: os.loadavg().map((x) => Number(x.toFixed(2))),
  },
};
disposeModel(source);
mkdirSync(out, { recursive: true });
writeAtomic(`${out}/sharing.json`, `${JSON.stringify(results, null, 1)}\n`);
writeAtomic(`${out}/sharing.md`, renderSharing(results));
console.log(`wrote ${out}/sharing.json and sharing.md`);

/** @param {string} file @param {string} body */
function writeAtomic(file, body) {
  writeFileSync(`${file}.tmp`, body);
  renameSync(`${file}.tmp`, file);
}
