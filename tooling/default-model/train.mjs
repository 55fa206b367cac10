// pnpm train:default — trains Recur's embedded default model from nothing: a byte-level BPE tokenizer
// (vocab 512) and a 6-layer Llama-family model, both made by the project's own code, on the
// TinyStories validation slice in ../shared (the last 10% of its documents held out). Writes the
// model to models/default/ with a RECIPE.md of what was done and measured. Interrupted? Run it again:
// it resumes from the newest checkpoint in .cache/default-run.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { machineDescription } from '../bench/record.mjs';

const root = new URL('../../', import.meta.url).pathname;
const run = `${root}.cache/default-run`;
const out = `${root}models/default`;
const data = `${root}../shared/corpora/tinystories_val/tinystories_val.txt`;
const recipe = {
  config: 'tooling/default-model/config.json',
  vocabSize: 512,
  steps: Number(process.env.DEFAULT_STEPS ?? 700),
  batch: 8,
  seq: 128,
  lr: 3e-3,
  schedule: 'cosine',
  warmup: Math.min(30, Math.floor(Number(process.env.DEFAULT_STEPS ?? 700) / 10)),
  weightDecay: 0.01,
  clip: 1,
  valFraction: 0.1,
  seed: 0,
  threads: Number(process.env.RECUR_THREADS ?? 1), // 1: measured faster than 2 for this small model's training here
};
const resume = existsSync(`${run}/checkpoints`) && readdirSync(`${run}/checkpoints`).some((d) => d.startsWith('step-'));
const args = [
  `${root}apps/cli/dist/recur.js`,
  'train',
  '--from-scratch',
  '--config',
  `${root}${recipe.config}`,
  '--vocab-size',
  String(recipe.vocabSize),
  '--data',
  data,
  '--out',
  run,
  '--steps',
  String(recipe.steps),
  '--batch',
  String(recipe.batch),
  '--seq',
  String(recipe.seq),
  '--lr',
  String(recipe.lr),
  '--schedule',
  recipe.schedule,
  '--warmup',
  String(recipe.warmup),
  '--weight-decay',
  String(recipe.weightDecay),
  '--clip',
  String(recipe.clip),
  '--val-fraction',
  String(recipe.valFraction),
  '--seed',
  String(recipe.seed),
  '--threads',
  String(recipe.threads),
  '--eval-every',
  '100',
  '--save-every',
  '50',
  '--json',
  ...(resume ? ['--resume'] : []),
];
console.log(`${resume ? 'resuming' : 'starting'} ${args.slice(1).join(' ')}`);
const summary = JSON.parse(
  execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 }),
);
mkdirSync(out, { recursive: true });
for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'])
  copyFileSync(`${summary.modelDir}/${file}`, `${out}/${file}`);
const log = readFileSync(`${run}/train.jsonl`, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
// Step time summed over the run's steps (the last record of each: a resumed run re-logs steps after its checkpoint).
const stepTimes = new Map(log.filter((r) => r.kind === 'step').map((r) => [r.step, r.tokens / r.tokensPerSecond]));
const seconds = [...stepTimes.values()].reduce((a, b) => a + b, 0);
const totalTokens = recipe.steps * recipe.batch * recipe.seq;
writeFileSync(
  `${out}/RECIPE.md`,
  `# Recur's default model

Made by \`pnpm train:default\` (tooling/default-model/train.mjs) from nothing but project code and
\`../shared/corpora/tinystories_val/tinystories_val.txt\`: a byte-level BPE tokenizer trained by
\`@recur/train\` (vocabulary ${recipe.vocabSize}), then a Llama-family decoder trained from random init.

- Model: ${recipe.config} — 6 layers, hidden 64, 4 heads / 2 KV heads, FFN 176, tied embeddings; ${summary.trainedParameters.toLocaleString('en-US')} parameters.
- Data: documents split on blank lines; the last ${recipe.valFraction * 100}% of documents held out (never trained on).
- Training: ${recipe.steps} AdamW steps × ${recipe.batch} sequences × ${recipe.seq} tokens = ${totalTokens.toLocaleString('en-US')} tokens${summary.resumedFrom !== null ? ` (this invocation resumed at step ${summary.resumedFrom})` : ''},
  peak lr ${recipe.lr}, ${recipe.schedule} schedule with ${recipe.warmup} warmup steps, weight decay ${recipe.weightDecay}, clip ${recipe.clip}, seed ${recipe.seed}, ${recipe.threads} wasm threads.
- Held-out perplexity: **${summary.heldOut.after.perplexity.toFixed(3)}** (mean NLL ${summary.heldOut.after.meanNll.toFixed(4)} nats over ${summary.heldOut.after.tokens.toLocaleString('en-US')} tokens)${summary.heldOut.before ? `; ${summary.heldOut.before.perplexity.toFixed(1)} at init` : ''}.
- Training time: ${(seconds / 60).toFixed(1)} min of steps (${(totalTokens / seconds).toFixed(0)} tokens/s; held-out evaluations and checkpoints extra) on ${machineDescription()}.

Loss curve and log: \`.cache/default-run/loss.svg\`, \`.cache/default-run/train.jsonl\` (not committed).
`,
);
console.log(
  `models/default: held-out perplexity ${summary.heldOut.after.perplexity.toFixed(3)}; ${summary.tokens} tokens at ${summary.tokensPerSecond.toFixed(0)} tok/s`,
);
