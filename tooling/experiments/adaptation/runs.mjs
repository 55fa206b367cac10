// Shared by the dsd, intact and unix sections of experiment:adaptation: fixed train/held-out splits of the three
// corpora, cached `recur train` runs, held-out perplexity, and CPU-seconds of the CLI runs a section starts.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

/** @typedef {import('../adaptationReport.mjs').SectionContext} SectionContext */
/** @typedef {{ steps: number, tokens: number, finalTrainLoss: number, heldOut: { after: { perplexity: number } }, modelDir: string, cpuSeconds: number, tokensPerCpuSecond: number, cached: boolean }} TrainSummary */

/** The corpora under ../shared/corpora by the names the sections use. */
export const corpora = {
  stories: 'tinystories_val/tinystories_val.txt',
  shakespeare: 'tinyshakespeare/input.txt',
  wikitext: 'wikitext-2-raw/wiki.test.raw',
};

/** The starting model of every section. */
export const sourceModel = (/** @type {string} */ root) => `${root}../shared/models/stories260K/hf`;

/** CPU-seconds of this process and its waited-for children (utime, stime, cutime, cstime of proc(5)). */
export function cpuSeconds() {
  if (!existsSync('/proc/self/stat')) return (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) " the fields start at proc(5)'s field 3, so utime..cstime (14–17) sit at 11..14.
  return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / 100; // USER_HZ = 100 on Linux
}

/**
 * A fixed split of corpus `name` into `<cacheDir>/splits/<name>-{train,heldout}.txt`: held-out documents are taken
 * from the END of the file until they reach `heldOutBytes`, training documents from the START up to `trainBytes`, so
 * the two never overlap (the held-out text is never trained on). Documents are blank-line separated.
 * @param {SectionContext} ctx @param {keyof typeof corpora} name @param {{ trainBytes: number, heldOutBytes: number }} sizes
 */
export function split(ctx, name, sizes) {
  const dir = `${ctx.cacheDir}/splits`;
  const tag = `${name}-${sizes.trainBytes}-${sizes.heldOutBytes}`;
  const files = { train: `${dir}/${tag}-train.txt`, heldOut: `${dir}/${tag}-heldout.txt` };
  if (existsSync(files.train) && existsSync(files.heldOut)) return files;
  const docs = readFileSync(`${ctx.root}../shared/corpora/${corpora[name]}`, 'utf8')
    .replace(/\r\n/g, '\n')
    // WikiText's raw file is one paragraph per line (no blank lines); the others separate documents by blank lines.
    .split(name === 'wikitext' ? /\n/ : /\n\s*\n/)
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
  const heldOut = takeUntil([...docs].reverse(), sizes.heldOutBytes).reverse();
  const train = takeUntil(docs.slice(0, docs.length - heldOut.length), sizes.trainBytes);
  if (train.length === 0) throw new Error(`${name}: no documents left to train on after ${heldOut.length} held out`);
  mkdirSync(dir, { recursive: true });
  writeAtomic(files.train, train.join('\n\n'));
  writeAtomic(files.heldOut, heldOut.join('\n\n'));
  return files;
}

/** The leading documents whose joined length first reaches `bytes`. @param {string[]} docs @param {number} bytes */
function takeUntil(docs, bytes) {
  let total = 0;
  const taken = [];
  for (const d of docs) {
    if (total >= bytes) break;
    taken.push(d);
    total += d.length + 2;
  }
  return taken;
}

/** @param {string} file @param {string} text */
export function writeAtomic(file, text) {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

/**
 * `recur train ARGS` into `<cacheDir>/runs/<label>-<hash of ARGS>` (reused when its summary exists), with the
 * CPU-seconds it took; every run evaluates only at the end, keeps one checkpoint and holds out 1% of --data.
 * @param {SectionContext} ctx @param {string} label @param {string[]} args
 * @returns {Promise<TrainSummary>}
 */
export async function train(ctx, label, args) {
  const full = [...args, '--eval-every', '0', '--keep', '1', '--val-fraction', '0.01', '--seed', String(ctx.seed)];
  const hash = createHash('sha256').update(full.join('\0')).digest('hex').slice(0, 10);
  const dir = `${ctx.cacheDir}/runs/${label}-${hash}`;
  const done = `${dir}/adaptation-summary.json`;
  if (existsSync(done)) return { ...JSON.parse(readFileSync(done, 'utf8')), cached: true };
  const { json, cpu } = await timedRecur(ctx, ['train', ...full, '--out', dir, '--force'], `${dir}.cpu`);
  const summary = /** @type {TrainSummary} */ (json);
  const result = { ...summary, modelDir: `${dir}/model`, cpuSeconds: cpu, tokensPerCpuSecond: summary.tokens / cpu };
  if (!Number.isFinite(result.heldOut.after.perplexity)) throw new Error(`${label}: training diverged (held-out NaN)`);
  writeAtomic(done, JSON.stringify(result));
  ctx.log(`${label}: ${summary.steps} steps, ${result.tokensPerCpuSecond.toFixed(0)} tok/CPU-s`);
  return { ...result, cached: false };
}

/**
 * `recur ARGS --json` run asynchronously (so a section can train several runs side by side on a shared machine)
 * under /usr/bin/time, which reports the run's own user + system CPU-seconds into `timeFile`.
 * @param {SectionContext} ctx @param {string[]} args @param {string} timeFile
 */
async function timedRecur(ctx, args, timeFile) {
  if (!existsSync('/usr/bin/time')) throw new Error("/usr/bin/time is needed to count a training run's CPU-seconds");
  mkdirSync(dirname(timeFile), { recursive: true });
  const cli = `${ctx.root}apps/cli/dist/recur.js`;
  const command = ['-f', '%U %S', '-o', timeFile, process.execPath, cli, ...args, '--json'];
  const { stdout } = await promisify(execFile)('/usr/bin/time', command, { maxBuffer: 1 << 28 }).catch((error) => {
    const stderr = /** @type {{ stderr?: string }} */ (error).stderr ?? String(error);
    throw new Error(`recur ${args.slice(0, 3).join(' ')} …: ${stderr.trim().slice(-2000)}`);
  });
  const [user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
  return { json: JSON.parse(stdout), cpu: (user ?? Number.NaN) + (system ?? Number.NaN) };
}

/**
 * `recur ARGS --json` through a cache in `<cacheDir>/evals/` keyed by ARGS: for commands that only read (eval,
 * gradient-conflict) of models that never change once written (every model here lives in a folder named by a hash
 * of how it was made), so a section rerun after an edit to its module repeats no measurement.
 * @param {SectionContext} ctx @param {string[]} args
 */
export function measured(ctx, args) {
  const file = `${ctx.cacheDir}/evals/${createHash('sha256').update(args.join('\0')).digest('hex').slice(0, 16)}.json`;
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const result = ctx.recur(args);
  mkdirSync(`${ctx.cacheDir}/evals`, { recursive: true });
  writeAtomic(file, JSON.stringify(result));
  return result;
}

/**
 * Held-out perplexity of `model` on `file` (windows of `window` tokens); `extra` adds eval flags (--domain, --adapter).
 * @param {SectionContext} ctx @param {string} model @param {string} file @param {number} window @param {string[]} [extra]
 */
export function perplexity(ctx, model, file, window, extra = []) {
  const r = /** @type {{ perplexity: number }} */ (
    measured(ctx, ['eval', '--model', model, '--data', file, '--window', String(window), ...extra])
  );
  if (!Number.isFinite(r.perplexity)) throw new Error(`eval ${model} on ${file}: perplexity is not finite`);
  return r.perplexity;
}

/**
 * Held-out perplexity after each loop (every token exits there), `eval --per-loop`.
 * @param {SectionContext} ctx @param {string} model @param {string} file @param {number} window
 */
export function perLoopPerplexity(ctx, model, file, window) {
  const r = /** @type {{ perLoop: { perplexity: number }[] }} */ (
    measured(ctx, ['eval', '--model', model, '--data', file, '--window', String(window), '--per-loop'])
  );
  const curve = r.perLoop.map((p) => p.perplexity);
  if (curve.some((p) => !Number.isFinite(p))) throw new Error(`eval --per-loop ${model}: a perplexity is not finite`);
  return curve;
}

/** `recur convert` of stories260K into `<cacheDir>/models/<label>` unless already there. @param {SectionContext} ctx @param {string} label @param {string[]} args */
export function convert(ctx, label, args) {
  const out = `${ctx.cacheDir}/models/${label}-${createHash('sha256').update(args.join('\0')).digest('hex').slice(0, 10)}`;
  if (existsSync(`${out}/config.json`)) return out;
  mkdirSync(`${ctx.cacheDir}/models`, { recursive: true });
  ctx.recur(['convert', sourceModel(ctx.root), '--out', out, '--force', ...args]);
  return out;
}
