// pnpm experiment:sharing (issue 17 §4) — the ways to share parameters across depth side by side, on stories260K
// and on Recur's default model: plain recursive (tied), depth-wise LoRA (SVD init), MoS, hyper and scaled LoRA at
// two equal unique-parameter budgets over each model's tied block (sharingRows.mjs), and MASA-attention at
// S ≈ L/3; every row of a model gets the same uptraining (sharingRun.mjs) on one corpus that model wrote itself;
// held-out perplexity before and after, unique parameters, bytes on disk, decode tokens per CPU-second. One
// model's work is sharingModel.mjs. Writes sharing.json and (sharingReport.mjs) sharing.md into docs/results, or
// SHARING_OUT; a model not run now keeps its entry from the sharing.json already there (its own commit and command).
// Env: SHARING_MODELS (comma-separated, default `stories260K,default`), SHARING_TOKENS (uptraining tokens per row),
// SHARING_CORPUS_TOKENS (the teacher corpus's cap, default 1M: a larger budget passes over it more than once),
// SHARING_SEED, SHARING_CACHE (default .cache/sharing), SHARING_DECODE_THREADS (default 2), SHARING_PATH (recur:
// Recur's own trainer, the default; pytorch: export --torch + uptrain_recur.py, see sharingTorch.mjs);
// `--smoke` (or SHARING_SMOKE=1): a tiny end-to-end run. `--decode-only`: the named models' decode speeds measured
// again on the folders their finished run left (nothing trains; the doc says when and at what load).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { remeasureDecode, sharingForModel, sharingModels } from './sharingModel.mjs';
import { modelEntries, renderSharing } from './sharingReport.mjs';
import { sharingPath } from './sharingTorch.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const smoke = process.argv.includes('--smoke') || process.env.SHARING_SMOKE === '1';
// decode speeds measured again, alone, on the folders a finished run left (the shared machine's lanes decode at once)
const decodeOnly = process.argv.includes('--decode-only');
const out = process.env.SHARING_OUT ?? `${root}docs/results`;
const cache = process.env.SHARING_CACHE ?? `${root}.cache/sharing`;
const known = sharingModels(root, cache);
const names = (process.env.SHARING_MODELS ?? 'stories260K,default').split(',').map((s) => s.trim());
for (const name of names)
  if (!(name in known))
    throw new RangeError(`SHARING_MODELS: unknown model '${name}' (known: ${Object.keys(known).join(', ')})`);
const seed = Number(process.env.SHARING_SEED ?? 0);
// the training path (sharingTorch.mjs): stated in the command only when not the default
const pathEnv = sharingPath() === 'pytorch' ? 'SHARING_PATH=pytorch ' : '';
const setup = smoke
  ? { batch: 2, seqLen: 32, windows: 2, prompt: 4, decode: 4, rounds: 1 }
  : // decode long enough that one round of a 260K-parameter model is not timer noise (64 steps took ≈ 20 ms)
    { batch: 8, seqLen: 128, windows: 32, prompt: 16, decode: 256, rounds: 7 };
const tokens = Number(process.env.SHARING_TOKENS ?? (smoke ? 128 : 24_576));
const ctx = {
  root,
  smoke,
  seed,
  tokens,
  steps: Math.max(1, Math.round(tokens / (setup.batch * setup.seqLen))),
  budgets: [0.05, 0.15],
  decodeThreads: Number(process.env.SHARING_DECODE_THREADS ?? 2),
  // the code the rows ran: read before anything trains (a later commit must not claim them)
  commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(),
  command: decodeOnly
    ? `SHARING_MODELS=${names.join(',')} node tooling/experiments/sharing.mjs --decode-only${smoke ? ' --smoke' : ''}`
    : smoke
      ? `${pathEnv}SHARING_MODELS=${names.join(',')} node tooling/experiments/sharing.mjs --smoke`
      : `${pathEnv}SHARING_MODELS=${names.join(',')} SHARING_TOKENS=${tokens} nice -n 10 pnpm experiment:sharing`,
  validationFile: `${root}../shared/corpora/tinystories_val/tinystories_val.txt`,
  setup,
};

await initBackend({ threads: 1 });
const existing = existsSync(`${out}/sharing.json`)
  ? modelEntries(JSON.parse(readFileSync(`${out}/sharing.json`, 'utf8'))).filter((e) => e.smoke === smoke)
  : [];
/** @type {any[]} */
const fresh = [];
for (const name of names) {
  const model = /** @type {any} */ (known)[name];
  if (!decodeOnly) fresh.push(await sharingForModel(name, model, ctx));
  else {
    const entry = existing.find((e) => e.model === name);
    if (!entry) throw new Error(`--decode-only: ${out}/sharing.json has no ${name} entry to measure again`);
    fresh.push(remeasureDecode(entry, model, ctx));
  }
}
// entries of models not run now, from an earlier invocation of the same mode (smoke or not)
const earlier = existing.filter((e) => !names.includes(e.model) && e.model in known);
const order = Object.keys(known);
const models = [...fresh, ...earlier].sort((a, b) => order.indexOf(a.model) - order.indexOf(b.model));
const results = { smoke, models };
mkdirSync(out, { recursive: true });
writeAtomic(`${out}/sharing.json`, `${JSON.stringify(results, null, 1)}\n`);
writeAtomic(`${out}/sharing.md`, renderSharing(results));
console.log(`wrote ${out}/sharing.json and sharing.md (${models.map((m) => m.model).join(', ')})`);

/** @param {string} file @param {string} body */
function writeAtomic(file, body) {
  writeFileSync(`${file}.tmp`, body);
  renameSync(`${file}.tmp`, file);
}
