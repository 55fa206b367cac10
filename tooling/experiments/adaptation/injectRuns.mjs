// Helpers of the `inject` section (inject.mjs): the fixed train/held-out splits, and `recur` runs cached under the
// section's cacheDir by their arguments (and the state of the model they read), so a rerun repeats none of them.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { cpuSecondsWithChildren as cpuSeconds } from '../../bench/record.mjs';

/** @typedef {import('./inject.mjs').Ctx} Ctx */
/** @typedef {import('./inject.mjs').TrainSummary} TrainSummary */

export const HELD_OUT_FRACTION = 0.1;
/** One wasm thread: measured faster than two for this small model (tooling/default-model/train.mjs). */
const THREADS = ['--threads', '1'];

/** Last `HELD_OUT_FRACTION` of each corpus's documents held out; train/held-out files under cacheDir/data. @param {Ctx} ctx */
export function splitCorpora(ctx) {
  const dir = `${ctx.cacheDir}/data`;
  mkdirSync(dir, { recursive: true });
  /** @typedef {'stories' | 'shakespeare'} Corpus */
  const files = /** @type {Record<Corpus, { train: string, heldOut: string }>} */ ({});
  const stats = /** @type {Record<Corpus, { documents: number, heldOutDocuments: number, file: string }>} */ ({});
  for (const [key, file] of /** @type {const} */ ([
    ['stories', 'tinystories_val/tinystories_val.txt'],
    ['shakespeare', 'tinyshakespeare/input.txt'],
  ])) {
    const docs = readFileSync(`${ctx.root}../shared/corpora/${file}`, 'utf8')
      .split(/\n\s*\n/)
      .map((d) => d.trim())
      .filter((d) => d.length > 0);
    const held = Math.max(1, Math.round(docs.length * HELD_OUT_FRACTION));
    files[key] = {
      train: writeOnce(`${dir}/${key}-train.txt`, docs.slice(0, -held).join('\n\n')),
      heldOut: writeOnce(`${dir}/${key}-heldout.txt`, docs.slice(-held).join('\n\n')),
    };
    stats[key] = { file: `../shared/corpora/${file}`, documents: docs.length, heldOutDocuments: held };
  }
  return { files, stats };
}

/** @param {string} path @param {string} text */
function writeOnce(path, text) {
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return path;
  writeFileSync(`${path}.${process.pid}.tmp`, text); // per process: two sources may fill the cache at once
  renameSync(`${path}.${process.pid}.tmp`, path);
  return path;
}

/**
 * `recur train` into cacheDir/runs/LABEL-HASH (HASH: of the arguments, so a changed run lands in a new folder and
 * what reads its model is keyed anew), seeded; its own validation split is a sliver (we score on the fixed
 * held-out files instead). Adds tokens per CPU-second of the child process. A finished run is reused.
 * @param {Ctx} ctx @param {string} label @param {string[]} args
 */
export function train(ctx, label, args) {
  const full = [...args, '--seed', String(ctx.seed), '--val-fraction', '0.002', '--eval-every', '0'];
  const out = `${ctx.cacheDir}/runs/${label}-${hashOf([full, modelStamp(args)])}`;
  /** @type {() => TrainSummary} */
  const run = () => {
    const cpu = cpuSeconds();
    const summary = /** @type {Omit<TrainSummary, 'tokensPerCpuSecond'>} */ (
      ctx.recur(['train', ...full, '--out', out, '--force', '--save-every', '100000', ...THREADS])
    );
    return { ...summary, tokensPerCpuSecond: summary.tokens / Math.max(1e-9, cpuSeconds() - cpu) };
  };
  return memoFile(`${out}.summary.json`, run);
}

/** `recur ARGS` once per distinct ARGS (and state of the model they name), its JSON kept under cacheDir/memo. @param {Ctx} ctx @param {string[]} args */
export function recurOnce(ctx, args) {
  return memoFile(`${ctx.cacheDir}/memo/${args[0]}-${hashOf([args, modelStamp(args)])}.json`, () =>
    ctx.recur([...args, ...THREADS]),
  );
}

/** Size and mtime of the weights a `--model` argument names: a retrained model at the same path is a new key. @param {string[]} args */
function modelStamp(args) {
  const model = args[args.indexOf('--model') + 1];
  if (!args.includes('--model') || !model || !existsSync(`${model}/model.safetensors`)) return null;
  const stat = statSync(`${model}/model.safetensors`);
  return [stat.size, stat.mtimeMs];
}

/** @param {unknown} value */
function hashOf(value) {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 12);
}

/**
 * The JSON in `file`, or `make()`'s value written there atomically.
 * @template T @param {string} file @param {() => T} make @returns {T}
 */
function memoFile(file, make) {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const value = make();
  mkdirSync(file.slice(0, file.lastIndexOf('/')), { recursive: true });
  writeOnce(file, JSON.stringify(value));
  return value;
}
