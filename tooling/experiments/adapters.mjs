// pnpm experiment:adapters (issue 18 §4) — many adapters on one base, side by side. On a frozen stories260K:
// a rank-8 LoRA per domain (TinyStories, Shakespeare, WikiText; fixed train / held-out splits); then for each
// target domain its own LoRA, ScaLearn (vector, uniform, uniform + shared), and gated fusion over the OTHER two
// domains' LoRAs, DVPT and full fine-tuning: held-out perplexity on every domain (target and forgetting),
// trainable parameters, steps and tokens. Then serving: the same mixed load with 1, 2 and 4 per-request adapters.
// Writes adapters.json and (adaptersReport.mjs) adapters.md into docs/results, or ADAPTERS_OUT.
// Env: ADAPTERS_STEPS, ADAPTERS_BATCH, ADAPTERS_SEQ (per run), ADAPTERS_SEED, ADAPTERS_TRAIN_BYTES,
// ADAPTERS_HELDOUT_BYTES (per domain), ADAPTERS_TARGETS (comma-separated target domains, default all), ADAPTERS_TRAIN_ONLY=1
// (fill the cache and stop: target slices may train in parallel, then a full run writes the doc; =loras: only the
// targets' own LoRAs), ADAPTERS_CACHE (default .cache/adapters); `--smoke`: a tiny end-to-end run.
// The same grid runs on a second base, the uptrained recursive model (adaptersRecursive.mjs): ADAPTERS_BASES
// (default stories260K,recursive), ADAPTERS_RECURSIVE_METHODS (its per-target methods besides the own LoRA, default
// all; a subset is reported as skipped), ADAPTERS_UPTRAIN_TOKENS (its brief uptraining, default 32768).
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { disposeModel } from '../../packages/engine/dist/index.js';
import { loadCompositionLora, loadModel, loadPeftAdapter, adapterTarget } from '../../packages/engine/dist/node.js';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { defaultLoad, serveMixed } from '../bench/adapterServing.mjs';
import { loadWindow, machineDescription } from '../bench/record.mjs';
import { domainSplits, domains } from './adaptersData.mjs';
import { renderAdapters } from './adaptersReport.mjs';
import { adapterGrid, allMethods, runSummary } from './adaptersGrid.mjs';
import { recursiveBase } from './adaptersRecursive.mjs';
import { heldOutPerplexities, learningRates, shapes } from './adaptersRun.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const smoke = process.argv.includes('--smoke') || process.env.ADAPTERS_SMOKE === '1';
const out = process.env.ADAPTERS_OUT ?? `${root}docs/results`;
const cache = process.env.ADAPTERS_CACHE ?? `${root}.cache/adapters`;
const env = (/** @type {string} */ name, /** @type {number} */ fallback) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name}=${process.env[name]}: a whole number ≥ 1`);
  return value;
};
const budget = {
  steps: env('ADAPTERS_STEPS', smoke ? 2 : 20),
  batch: env('ADAPTERS_BATCH', smoke ? 2 : 4),
  seq: env('ADAPTERS_SEQ', smoke ? 32 : 128),
};
const seed = Number(process.env.ADAPTERS_SEED ?? 0);
const sizes = {
  trainBytes: env('ADAPTERS_TRAIN_BYTES', smoke ? 20_000 : 80_000),
  heldOutBytes: env('ADAPTERS_HELDOUT_BYTES', smoke ? 1_500 : 5_000),
};
const window = smoke ? 64 : 128;
const serving = smoke ? { load: { requests: 4, newTokens: 8 }, rounds: 1 } : { load: defaultLoad, rounds: 7 };
/** @type {import('./adaptersData.mjs').Domain[]} */
const names = /** @type {never} */ (Object.keys(domains));
const listEnv = (
  /** @type {string} */ name,
  /** @type {readonly string[]} */ allowed,
  /** @type {string[]} */ fallback,
) => {
  const list = process.env[name]?.split(',') ?? fallback;
  const wrong = list.filter((x) => !allowed.includes(x));
  if (wrong.length > 0)
    throw new RangeError(`${name}=${process.env[name]}: ${wrong.join(', ')} not among ${allowed.join(', ')}`);
  return list;
};
const bases = listEnv('ADAPTERS_BASES', ['stories260K', 'recursive'], ['stories260K', 'recursive']);
const recursiveMethods = /** @type {import('./adaptersRun.mjs').Method[]} */ (
  listEnv('ADAPTERS_RECURSIVE_METHODS', allMethods, allMethods)
);
const uptrainTokens = env('ADAPTERS_UPTRAIN_TOKENS', smoke ? 1024 : 32_768);
const trainOnlyEnv = process.env.ADAPTERS_TRAIN_ONLY ?? '0';
if (!['0', '1', 'loras'].includes(trainOnlyEnv))
  throw new RangeError(`ADAPTERS_TRAIN_ONLY=${trainOnlyEnv}: 1, loras or 0`);
const trainOnly = trainOnlyEnv === '0' ? undefined : trainOnlyEnv;
const chosen = process.env.ADAPTERS_TARGETS?.split(',') ?? (smoke ? names.slice(1, 2) : names);
const targets = names.filter((d) => chosen.includes(d));
if (targets.length === 0)
  throw new RangeError(`ADAPTERS_TARGETS=${process.env.ADAPTERS_TARGETS}: none of ${names.join(', ')}`);

await initBackend({ threads: 1 });
const started = performance.now();
const cpuStart = process.cpuUsage();
const loadSpan = loadWindow();
const base = `${root}../shared/models/stories260K/hf`;
const splits = domainSplits(`${root}../shared/corpora`, cache, sizes);
/** @type {import('./adaptersRun.mjs').RunContext} */
const ctx = { base, cache: `${cache}${smoke ? '/smoke' : ''}`, splits, window, loraDirs: {} };
const plan = { domains: names, targets, budget, seed, loraDomains: trainOnly === 'loras' ? targets : names };
const flat = bases.includes('stories260K')
  ? await adapterGrid(ctx, { ...plan, methods: allMethods, label: 'stories260K' })
  : undefined;
const recursive = bases.includes('recursive') ? await recursiveGrid() : undefined;
const trainedMinutes = (performance.now() - started) / 60000;
if (trainOnly !== undefined) {
  // a slice that only fills the cache (slices of targets may train in parallel); a full run then writes the doc
  console.log(`trained ${targets.join(', ')} (${bases.join(', ')}) into ${ctx.cache}`);
  process.exit(0);
}
if (!flat)
  throw new RangeError(`ADAPTERS_BASES=${process.env.ADAPTERS_BASES}: the doc needs stories260K (serving runs on it)`);
const { loras, perTarget } = flat;
const baseModel = await loadModel(base);
const basePerplexity = await heldOutPerplexities(baseModel, ctx);

// Serving: the three domain LoRAs and a ScaLearn composition folded into one LoRA, as serve loads them.
const composed = perTarget[/** @type {string} */ (targets[0])]?.find((r) => r.config.method === 'scalearn');
if (!composed) throw new Error('no ScaLearn composition to serve');
const served = [
  ...(await Promise.all(
    names.map((d) => loadPeftAdapter(/** @type {string} */ (ctx.loraDirs[d]), adapterTarget(baseModel))),
  )),
  await loadCompositionLora(baseModel, composed.folder),
];
const counts = [0, 1, 2, 4];
/** @type {{ adapters: number, tokens: number, seconds: number, cpuSeconds: number, tokensPerSecond: number, tokensPerCpuSecond: number }[]} */
const servingRuns = [];
await serveMixed(baseModel, served, serving.load); // warm-up: the first serve pays compilation and cold caches
for (let round = 0; round < serving.rounds; round++)
  for (const n of counts)
    servingRuns.push({ adapters: n, ...(await serveMixed(baseModel, served.slice(0, n), serving.load)) });
for (const lora of served) lora.dispose();
disposeModel(baseModel);

const cpu = process.cpuUsage(cpuStart);
const results = {
  smoke,
  model: 'stories260K (frozen base)',
  command: `${os.getPriority() > 0 ? `nice -n ${os.getPriority()} ` : ''}pnpm experiment:adapters${smoke ? ' -- --smoke' : ''}`,
  commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(),
  date: new Date().toISOString(),
  machine: machineDescription(),
  nproc: os.cpus().length,
  seed,
  budget: {
    ...budget,
    tokensPerRun: budget.steps * budget.batch * budget.seq,
    learningRates,
    shapes,
    schedule: 'cosine, 10 % warmup, to 10 % of peak',
  },
  data: Object.fromEntries(
    Object.entries(splits).map(([d, s]) => [
      d,
      {
        file: `../shared/corpora/${domains[/** @type {keyof typeof domains} */ (d)]}`,
        trainBytes: s.trainBytes,
        heldOutBytes: s.heldOutBytes,
      },
    ]),
  ),
  window,
  base: { perplexity: basePerplexity },
  loras,
  targets: perTarget,
  serving: {
    load: serving.load,
    rounds: serving.rounds,
    adapters: [...names.map((d) => `LoRA ${d}`), `ScaLearn over ${composed.config.sources.join('+')} (folded)`],
    runs: servingRuns,
  },
  recursive: recursive ?? { run: false, why: `not run (ADAPTERS_BASES=${bases.join(',')})` },
  minutes: { training: trainedMinutes, total: (performance.now() - started) / 60000 },
  runs: runSummary(flat.allRuns),
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  loadAverage: loadSpan(),
};
mkdirSync(out, { recursive: true });
writeAtomic(`${out}/adapters.json`, `${JSON.stringify(results, null, 1)}\n`);
writeAtomic(`${out}/adapters.md`, renderAdapters(results));
console.log(`wrote ${out}/adapters.json and adapters.md`);

/** The uptrained recursive model (built or cached) and the grid on it, with its own per-domain base perplexity. */
async function recursiveGrid() {
  const built = await recursiveBase(base, { cache: `${ctx.cache}/recursive`, tokens: uptrainTokens, ...budget, seed });
  /** @type {import('./adaptersRun.mjs').RunContext} */
  const rctx = { ...ctx, base: built.folder, cache: built.dir, loraDirs: {} };
  const grid = await adapterGrid(rctx, { ...plan, methods: recursiveMethods, label: 'recursive' });
  if (trainOnly !== undefined) return undefined;
  const model = await loadModel(built.folder);
  const perplexity = await heldOutPerplexities(model, rctx);
  disposeModel(model);
  const { cached, folder, dir, ...how } = built;
  return {
    run: true,
    model: 'stories260K converted middle-cycle × 2 and uptrained (frozen base)',
    ...how,
    baseCached: cached,
    methods: ['lora', ...recursiveMethods],
    skipped: allMethods.filter((m) => !recursiveMethods.includes(m)),
    base: { perplexity },
    loras: grid.loras,
    targets: grid.perTarget,
    runs: runSummary(grid.allRuns),
  };
}

/** @param {string} file @param {string} body */
function writeAtomic(file, body) {
  writeFileSync(`${file}.tmp`, body);
  renameSync(`${file}.tmp`, file);
}
