// One model's part of `pnpm experiment:sharing` (issue 17 §4): everything that depends on the source model —
// the teacher corpus it writes itself, held-out windows of the real TinyStories validation documents in its own
// tokenizer, budgets sized against its own tied block, every row's uptraining (cache keys per model) and the decode
// speeds. Returns the model's entry of sharing.json (its own commit, load and CPU, as entries may come from
// different invocations).
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { relative } from 'node:path';
import { convertMasa, disposeModel } from '../../packages/engine/dist/index.js';
import { loadModel, trainingData } from '../../packages/engine/dist/node.js';
import { loadWindow, machineDescription } from '../bench/record.mjs';
import { plainPerplexity, teacherCorpus } from './payoffModel.mjs';
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
import { claimHolder, folderBytes, uptrainRow, uptraining } from './sharingRun.mjs';
import { sharingPath, torchPathAbout } from './sharingTorch.mjs';

/**
 * The models the experiment knows. stories260K keeps the cache layout of the first invocation (no model folder,
 * its token cache named 'stories260K') so its finished runs are reused; every other model caches under its name.
 * @param {string} root @param {string} cache
 */
export function sharingModels(root, cache) {
  return /** @type {Record<string, { dir: string, about: string, cache: string }>} */ ({
    stories260K: {
      dir: `${root}../shared/models/stories260K/hf`,
      about: 'stories260K (../shared/models/stories260K/hf)',
      cache,
    },
    default: {
      dir: `${root}models/default`,
      about:
        "Recur's embedded default model (models/default, made from nothing by `pnpm train:default`; its training held out the same last 10% of the validation documents)",
      cache: `${cache}/default`,
    },
  });
}

/**
 * @typedef {{ root: string, smoke: boolean, seed: number, tokens: number, steps: number, budgets: number[],
 *   decodeThreads: number, commit: string, command: string, validationFile: string,
 *   setup: { batch: number, seqLen: number, windows: number, prompt: number, decode: number, rounds: number } }} Context
 */

/**
 * Runs every row on one model and returns its entry.
 * @param {string} name @param {{ dir: string, about: string, cache: string }} model @param {Context} ctx
 */
export async function sharingForModel(name, model, ctx) {
  const { root, setup, steps, seed } = ctx;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const loadSpan = loadWindow();
  const source = await loadModel(model.dir);
  // the budget's size up to SHARING_CORPUS_TOKENS (default 1M; a larger budget passes over it more than once, as
  // experiment:uptraining's and the payoff's 5M tokens do), and at least a few documents (the trainer splits off a validation document)
  const corpusCap = Number(process.env.SHARING_CORPUS_TOKENS ?? 1_000_000);
  const corpusTokens = Math.max(Math.min(steps * setup.batch * setup.seqLen, corpusCap), 1024);
  const corpus = await teacherCorpus(source, corpusTokens, seed, `${model.cache}/corpus`);
  console.log(
    `sharing | ${name} | corpus ${relative(root, corpus.file)} | ${corpus.cached ? 'cached' : `${corpus.seconds.toFixed(0)} s`}`,
  );
  // Held out: windows from the last 10% of the real TinyStories validation documents (nothing here trains on them).
  const data = await trainingData({
    textFile: ctx.validationFile,
    tokenizer: source.tokenizer,
    tokenizerIdentity: name,
    cacheDir: `${model.cache}/tokens`,
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
  const plan = await planRows(source, ctx.smoke, ctx.budgets, tiedUnique);
  const atoms = masaAtoms(source.config.numLayers);
  const trainPath = sharingPath();
  const run = (/** @type {string} */ key) => ({
    textFile: corpus.file,
    steps,
    batch: setup.batch,
    seqLen: setup.seqLen,
    // a PyTorch-trained run is its own (never reused for the other path)
    out: `${model.cache}/runs/${key}-steps${steps}-b${setup.batch}x${setup.seqLen}-seed${seed}${trainPath === 'pytorch' ? '-torch' : ''}`,
    seed,
    heldOut,
    label: `${name} ${key}`,
  });

  // every row as a job: its conversion, cache key and table entry; a row another invocation is training waits to the end
  const jobs = [
    ...plan.map((p) => ({
      key: [p.mechanism, ...(p.setting ? Object.entries(p.setting.knobs).map(([k, v]) => `${k}=${v}`) : [])].join('-'),
      convert: async () => {
        const converted = await convertWith(source, p.setting);
        return { model: converted, unique: converted.parameters.shared + converted.parameters.lora };
      },
      entry: { ...p, setting: p.setting?.knobs ?? null },
    })),
    {
      key: `masa-attention-atoms=${atoms}`,
      convert: async () => {
        const masa = await convertMasa(source, { atoms, modules: masaAttention });
        return { model: masa, unique: masa.parameters.stored };
      },
      entry: { label: `MASA attention S=${atoms}`, mechanism: 'masa', budget: null, setting: { atoms } },
    },
  ];
  const rows = new Array(jobs.length);
  const measure = async (/** @type {(typeof jobs)[number]} */ job, /** @type {number} */ i) => {
    const { model: converted, unique } = await job.convert();
    const measured = await uptrainRow(converted, source, run(job.key));
    disposeModel(converted);
    rows[i] = { ...job.entry, uniqueParameters: unique, ...measured };
  };
  /** @type {[(typeof jobs)[number], number][]} */
  const later = [];
  for (const [i, job] of jobs.entries()) {
    if (claimHolder(run(job.key).out) === null) await measure(job, i);
    else later.push([job, i]);
  }
  for (const [job, i] of later) await measure(job, i);
  const masaLooped = await masaLoopingAnswers(source, atoms);
  const speed = decodeSpeeds(root, ctx, [model.dir, ...rows.map((r) => r.modelDir)]);
  const cpu = process.cpuUsage(cpuStarted);
  const layers = source.config.numLayers;
  const sourceParameters = source.decoder.parameterCount;
  disposeModel(source);
  return {
    smoke: ctx.smoke,
    model: name,
    about: model.about,
    source: {
      uniqueParameters: sourceParameters,
      perplexity: sourcePerplexity,
      bytesOnDisk: folderBytes(model.dir),
      layers,
      ...speed(0),
    },
    tied: { uniqueParameters: tiedUnique },
    looping,
    budgets: ctx.budgets,
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
      path: trainPath,
      ...(trainPath === 'pytorch' ? { torch: torchPathAbout() } : {}),
    },
    corpus: { file: relative(root, corpus.file), tokens: corpusTokens, teacher: name, temperature: 1 },
    heldOut: {
      file: relative(root, ctx.validationFile),
      windows: heldOut.length,
      window: 128,
      tokens: heldOut.reduce((n, w) => n + w.length - 1, 0),
      split: 'last 10% of the documents',
    },
    decode: decodeSettings(ctx),
    seeds: { corpus: seed, training: seed, mos: 0, conversion: 0 },
    commit: ctx.commit,
    command: ctx.command,
    date: new Date().toISOString(),
    machine: machineDescription(),
    nproc: os.cpus().length,
    minutes: (performance.now() - started) / 60000,
    cpuMinutes: (cpu.user + cpu.system) / 60e6,
    loadAverage: loadSpan(),
  };
}

/**
 * The tied row, then every mechanism at every budget over this model's own tied block.
 * @param {import('../../packages/engine/dist/index.js').LoadedModel} source @param {boolean} smoke
 * @param {number[]} budgets @param {number} tiedUnique
 */
async function planRows(source, smoke, budgets, tiedUnique) {
  const grid = settingGrid(smoke);
  /** @type {Record<string, import('./sharingRows.mjs').CountedSetting[]>} */
  const counted = {};
  for (const [mechanism, settings] of Object.entries(grid)) counted[mechanism] = await countSettings(source, settings);
  return [
    { label: 'tied', mechanism: 'tied', budget: /** @type {number | null} */ (null), setting: null },
    ...budgets.flatMap((budget) =>
      Object.keys(grid).map((mechanism) => ({
        label: `${mechanism} +${budget * 100}%`,
        mechanism,
        budget: /** @type {number | null} */ (budget),
        setting: /** @type {import('./sharingRows.mjs').Setting | null} */ (
          pickSetting(/** @type {any} */ (counted[mechanism]), tiedUnique * (1 + budget))
        ),
      })),
    ),
  ];
}

/**
 * `entry` (this model's section of sharing.json) with every decode speed measured again on `model`'s source and the
 * rows' trained folders, and when, where and by what command that was done (`--decode-only`: the rows' training and
 * perplexities stand as they were).
 * @param {any} entry @param {{ dir: string }} model @param {Context} ctx
 */
export function remeasureDecode(entry, model, ctx) {
  const loadSpan = loadWindow();
  const speed = decodeSpeeds(ctx.root, ctx, [
    model.dir,
    ...entry.rows.map((/** @type {any} */ r) => `${ctx.root}${r.modelDir}`),
  ]);
  const remeasured = {
    commit: ctx.commit,
    command: ctx.command,
    date: new Date().toISOString(),
    loadAverage: loadSpan(),
  };
  return {
    ...entry,
    source: { ...entry.source, ...speed(0) },
    rows: entry.rows.map((/** @type {any} */ r, /** @type {number} */ i) => ({ ...r, ...speed(i + 1) })),
    decode: { ...decodeSettings(ctx), remeasured },
  };
}

/** How the decode columns are measured (stated in the doc). @param {Context} ctx */
function decodeSettings(ctx) {
  const { setup } = ctx;
  return { threads: ctx.decodeThreads, promptTokens: setup.prompt, decodeTokens: setup.decode, rounds: setup.rounds };
}

/**
 * Decode speeds of `dirs` measured in their own process (sharingDecode.mjs); returns a lookup by index.
 * @param {string} root @param {Context} ctx @param {string[]} dirs
 */
function decodeSpeeds(root, ctx, dirs) {
  const { setup } = ctx;
  const decoded = JSON.parse(
    execFileSync(
      process.execPath,
      [
        `${root}tooling/experiments/sharingDecode.mjs`,
        ...[ctx.decodeThreads, setup.prompt, setup.decode, setup.rounds].map(String),
        ...dirs,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  return (/** @type {number} */ i) => {
    const d = decoded[i];
    return {
      decodePath: d.path,
      decodeTokensPerCpuSecond: d.tokensPerCpuSecond,
      decodeTokensPerSecond: d.tokensPerSecond,
    };
  };
}
