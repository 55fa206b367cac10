// pnpm experiment:adaptation (issue 19 §2–§6) — runs each section module under tooling/experiments/adaptation/
// (inject, echo, dsd, intact, unix; a missing one is "not run"), caches each section's result in
// CACHE/<name>/result.json keyed by a hash of the module's source + seed + smoke, and writes adaptation.json and
// (adaptationReport.mjs) adaptation.md into docs/results, or ADAPTATION_OUT.
// Flags: `--smoke` (every section at a tiny budget; output defaults to .cache/adaptation-smoke/out), `--only NAME`
// (repeatable: rerun those sections whatever their cache; the others keep a cached or previous result).
// Env: ADAPTATION_SEED (default 0), ADAPTATION_OUT, ADAPTATION_CACHE (default .cache/adaptation, or -smoke).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadAverage, machineDescription } from '../bench/record.mjs';
import { cpuSeconds } from './adaptation/runs.mjs';
import { loadSection, sectionFile, sectionNames, writeAdaptationReport } from './adaptationReport.mjs';

/** @typedef {import('./adaptationReport.mjs').SectionEntry} SectionEntry */
/** @typedef {import('./adaptationReport.mjs').AdaptationDoc} AdaptationDoc */

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = `${root}apps/cli/dist/recur.js`;
// One kernel thread per CLI run unless told otherwise: the machine is shared, its spare cores are not spare.
process.env.RECUR_THREADS = process.env.RECUR_THREADS ?? '1';
const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke') || process.env.ADAPTATION_SMOKE === '1';
// --cached: assemble the doc from cached results only (a section without a fresh one is "not run"), e.g. after
// running sections side by side as separate `--only NAME` processes.
const cachedOnly = argv.includes('--cached');
const only = argv.flatMap((a, i) => (argv[i - 1] === '--only' ? [a] : []));
const unknown = only.filter((n) => !sectionNames.includes(/** @type {never} */ (n)));
if (unknown.length) throw new Error(`--only ${unknown.join(', ')}: not a section (${sectionNames.join(', ')})`);
const seed = Number(process.env.ADAPTATION_SEED ?? 0);
if (!Number.isInteger(seed)) throw new RangeError(`ADAPTATION_SEED=${process.env.ADAPTATION_SEED}: a whole number`);
const cacheRoot = process.env.ADAPTATION_CACHE ?? `${root}.cache/adaptation${smoke ? '-smoke' : ''}`;
const out = process.env.ADAPTATION_OUT ?? (smoke ? `${cacheRoot}/out` : `${root}docs/results`);

/** `recur ARGS --json`, parsed; throws with the command's stderr when it exits non-zero. @param {readonly string[]} args */
function recur(args) {
  try {
    const stdout = execFileSync(process.execPath, [cli, ...args, '--json'], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return JSON.parse(stdout);
  } catch (error) {
    const stderr = /** @type {{ stderr?: string }} */ (error).stderr;
    const message = stderr?.trim() || (error instanceof Error ? error.message : String(error));
    throw new Error(`recur ${args.join(' ')}: ${message.slice(-2000)}`);
  }
}

/** @param {string} name */
function cacheKey(name) {
  return createHash('sha256')
    .update(readFileSync(sectionFile(name)))
    .update(`\0seed=${seed}\0smoke=${smoke}`)
    .digest('hex')
    .slice(0, 16);
}

/** The section's entry: its cached result when the key matches (and it is not in --only), else a fresh run. @param {string} name @param {SectionEntry | undefined} previous */
async function sectionEntry(name, previous) {
  const module = await loadSection(name);
  if (!module)
    return /** @type {SectionEntry} */ ({
      status: 'not run',
      reason: `no module tooling/experiments/adaptation/${name}.mjs`,
    });
  const hash = cacheKey(name);
  const cacheDir = `${cacheRoot}/${name}`;
  const cacheFile = `${cacheDir}/result.json`;
  const selected = only.length === 0 || only.includes(name);
  if (existsSync(cacheFile) && !(only.length && selected)) {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8'));
    if (cached.hash === hash) return /** @type {SectionEntry} */ ({ ...cached, cached: true });
  }
  if (cachedOnly) return /** @type {SectionEntry} */ ({ status: 'not run', reason: 'no cached result (--cached)' });
  if (!selected)
    return previous ?? /** @type {SectionEntry} */ ({ status: 'not run', reason: 'not selected by --only' });
  mkdirSync(cacheDir, { recursive: true });
  const log = (/** @type {string} */ msg) => console.log(`[${name}] ${msg}`);
  const started = performance.now();
  const cpuBefore = cpuSeconds();
  try {
    const result = await module.run({ root, cacheDir, seed, smoke, log, recur });
    const entry = {
      status: /** @type {const} */ ('ok'),
      title: module.title,
      hash,
      command: ['pnpm experiment:adaptation', ...argv].join(' '),
      date: new Date().toISOString(),
      minutes: (performance.now() - started) / 60000,
      cpuSeconds: cpuSeconds() - cpuBefore,
      result,
    };
    writeFileSync(`${cacheFile}.tmp`, JSON.stringify(entry, null, 1));
    renameSync(`${cacheFile}.tmp`, cacheFile);
    return { ...entry, cached: false };
  } catch (error) {
    console.error(`[${name}] failed:`, error);
    const message = error instanceof Error ? error.message : String(error);
    return /** @type {SectionEntry} */ ({ status: 'failed', title: module.title, hash, error: message.slice(0, 2000) });
  }
}

const loadBefore = loadAverage();
mkdirSync(out, { recursive: true });
const previousFile = `${out}/adaptation.json`;
/** @type {Record<string, SectionEntry>} */
const previous = existsSync(previousFile) ? (JSON.parse(readFileSync(previousFile, 'utf8')).sections ?? {}) : {};
/** @type {Record<string, SectionEntry>} */
const sections = {};
for (const name of sectionNames) {
  sections[name] = await sectionEntry(name, previous[name]);
  const s = sections[name];
  console.log(
    `${name}: ${s.status}${s.cached ? ' (cached)' : ''}${s.cpuSeconds ? `, ${s.cpuSeconds.toFixed(0)} CPU-s` : ''}`,
  );
}
/** @type {AdaptationDoc} */
const doc = {
  commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(),
  date: new Date().toISOString(),
  command: ['pnpm experiment:adaptation', ...argv].join(' '),
  smoke,
  seed,
  machine: machineDescription(),
  nproc: os.availableParallelism(),
  loadAverage: { before: loadBefore, after: loadAverage() },
  sections,
};
writeFileSync(`${previousFile}.tmp`, `${JSON.stringify(doc, null, 1)}\n`);
renameSync(`${previousFile}.tmp`, previousFile);
await writeAdaptationReport(out);
console.log(`wrote ${out}/adaptation.json and adaptation.md`);
if (Object.values(sections).some((s) => s.status === 'failed')) process.exitCode = 1;
