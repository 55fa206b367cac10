// Section `echo` of pnpm experiment:adaptation (issue 19 §3): EchoAtt ("EchoAtt: Attend, Copy, then Adjust
// for More Efficient Large Language Models", 2024, arXiv 2409.14595) on stories260K — convert with an `auto`
// plan and an explicit one, held-out perplexity before and after a short recovery training distilled from
// the original, and fast-path tokens per CPU-second with and without the reuse (interleaved).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const name = 'echo';
export const title = 'EchoAtt: reused attention maps, recovered by distillation, timed on the fast path';

const source = '../shared/models/stories260K/hf';
const corpus = '../shared/corpora/tinystories_val/tinystories_val.txt';
/** @param {string} key @param {number} fallback */
const env = (key, fallback) => Number(process.env[key] ?? fallback);

/**
 * @typedef {{ root: string, cacheDir: string, seed: number, smoke: boolean, log(msg: string): void, recur(args: string[]): any }} Ctx
 * @typedef {{ heldChars: number, trainChars: number, steps: number, batch: number, seq: number, echoWindows: number, prefill: number, decode: number, repeats: number }} Budgets
 * @typedef {{ step: number, source: number }} Reuse
 * @typedef {{ name: string, spec: string, threshold?: number, reuse: Reuse[], parameters: { source: number, echo: number },
 *   skipped?: string, model?: string, trainSeconds?: number | null, perplexity?: { before: number, after: number } }} Variant
 * @typedef {{ name: string, parameters: number, prefillTokensPerCpuSecond: number, decodeTokensPerCpuSecond: number,
 *   prefillTokensPerSecond: number, decodeTokensPerSecond: number }} Speed
 * @typedef {{ source: string, budgets: Budgets, threshold: number, window: number, sourcePerplexity: number,
 *   variants: Variant[], speed: Speed[] }} EchoResult
 */

/** Budgets (env-overridable; --smoke: tiny). @param {boolean} smoke @returns {Budgets} */
function budgets(smoke) {
  return smoke
    ? {
        heldChars: 6000,
        trainChars: 40000,
        steps: 2,
        batch: 2,
        seq: 32,
        echoWindows: 1,
        prefill: 16,
        decode: 4,
        repeats: 1,
      }
    : {
        heldChars: env('ECHO_HELD_CHARS', 60000),
        trainChars: env('ECHO_TRAIN_CHARS', 400000),
        steps: env('ECHO_STEPS', 60),
        batch: env('ECHO_BATCH', 8),
        seq: env('ECHO_SEQ', 128),
        echoWindows: env('ECHO_WINDOWS', 4),
        prefill: env('ECHO_PREFILL', 128),
        decode: env('ECHO_DECODE', 64),
        repeats: env('ECHO_REPEATS', 2),
      };
}

/**
 * The plans: `auto` at a similarity threshold measured on the training text, and the README's list.
 * @param {number} threshold @returns {{ name: string, spec: string, threshold?: number }[]}
 */
const plans = (threshold) => [
  { name: 'auto', spec: 'auto', threshold },
  { name: 'explicit', spec: '3<-2,4<-2' },
];

/** @param {Ctx} ctx @returns {Promise<EchoResult>} */
export async function run(ctx) {
  const b = budgets(ctx.smoke);
  const threshold = env('ECHO_THRESHOLD', 0.6);
  const { held, train } = splitCorpus(ctx, b);
  const window = Math.min(64, b.seq);
  /** @param {string} model @returns {number} */
  const perplexity = (model) =>
    ctx.recur(['eval', '--model', model, '--data', held, '--window', String(window)]).perplexity;
  const sourcePerplexity = perplexity(source);
  /** @type {Variant[]} */
  const variants = [];
  for (const plan of plans(threshold)) {
    ctx.log(`echo: convert (${plan.spec})`);
    const converted = join(ctx.cacheDir, `convert-${plan.name}`);
    const extra =
      plan.spec === 'auto'
        ? ['--data', train, '--window', String(window), '--echo-windows', String(b.echoWindows)]
        : [];
    const summary = ctx.recur([
      'convert',
      source,
      '--out',
      converted,
      '--echo-attention',
      plan.spec,
      ...(plan.threshold === undefined ? [] : ['--echo-threshold', String(plan.threshold)]),
      ...extra,
      '--force',
    ]);
    const variant = { ...plan, reuse: summary.echoAttention, parameters: summary.parameters };
    if (summary.echoAttention.length === 0) {
      variants.push({ ...variant, skipped: 'the plan is empty: no step pair reached the threshold' });
      continue;
    }
    const before = perplexity(converted);
    ctx.log(`echo: recovery training (${plan.name}, ${b.steps} steps, distilled from the source)`);
    const runDir = join(ctx.cacheDir, `train-${plan.name}`);
    rmSync(runDir, { recursive: true, force: true });
    const trained = ctx.recur([
      ...['train', '--model', converted, '--data', train, '--out', runDir, '--steps', String(b.steps)],
      ...['--batch', String(b.batch), '--seq', String(b.seq), '--distill', '--teacher', source],
      ...['--eval-every', '0', '--eval-windows', '4', '--seed', String(ctx.seed), '--threads', '1', '--force'],
    ]);
    const model = join(runDir, 'model');
    variants.push({
      ...variant,
      model,
      trainSeconds: trained.seconds ?? null,
      perplexity: { before, after: perplexity(model) },
    });
  }
  const speed = benchInterleaved(
    ctx,
    b,
    variants.filter((v) => v.model),
  );
  return { source, budgets: b, threshold, window, sourcePerplexity, variants, speed };
}

/**
 * Held-out text (the corpus's first documents) and training text (the ones after), cut at a blank line.
 * @param {Ctx} ctx @param {Budgets} b
 */
function splitCorpus(ctx, b) {
  const text = readFileSync(join(ctx.root, corpus), 'utf8');
  /** @param {number} at */
  const cut = (at) => {
    const blank = text.indexOf('\n\n', at);
    return blank < 0 ? text.length : blank + 2;
  };
  const heldEnd = cut(b.heldChars);
  const held = join(ctx.cacheDir, 'held.txt');
  const train = join(ctx.cacheDir, 'train.txt');
  writeFileSync(held, text.slice(0, heldEnd));
  writeFileSync(train, text.slice(heldEnd, cut(heldEnd + b.trainChars)));
  return { held, train };
}

/**
 * Fast-path bench of the source and each trained echo model, one compute thread, A, B, C, A, B, C, …; means.
 * @param {Ctx} ctx @param {Budgets} b @param {Variant[]} variants @returns {Speed[]}
 */
function benchInterleaved(ctx, b, variants) {
  /** @type {{ name: string, model: string, runs: any[] }[]} */
  const models = [
    { name: 'source', model: source, runs: [] },
    ...variants.map((v) => ({ name: v.name, model: v.model ?? '', runs: [] })),
  ];
  for (let r = 0; r < b.repeats; r++)
    for (const m of models) {
      ctx.log(`echo: bench ${m.name} (${r + 1}/${b.repeats})`);
      const args = ['bench', '--model', m.model, '--backend', 'wasm', '--threads', '1'];
      m.runs.push(ctx.recur([...args, '--prefill', String(b.prefill), '--decode', String(b.decode)]));
    }
  /** @param {any[]} runs @param {string} field */
  const mean = (runs, field) => runs.reduce((sum, r) => sum + r[field], 0) / runs.length;
  return models.map(({ name, runs }) => {
    if (runs.some((r) => r.path !== 'fast')) throw new Error(`echo: bench of ${name} did not run the fast path`);
    return {
      name,
      parameters: runs[0].parameters,
      prefillTokensPerCpuSecond: mean(runs, 'prefillTokensPerCpuSecond'),
      decodeTokensPerCpuSecond: mean(runs, 'decodeTokensPerCpuSecond'),
      prefillTokensPerSecond: mean(runs, 'prefillTokensPerSecond'),
      decodeTokensPerSecond: mean(runs, 'decodeTokensPerSecond'),
    };
  });
}

/** @param {EchoResult} result @param {string} name @returns {Speed} */
function speedOf(result, name) {
  const speed = result.speed.find((s) => s.name === name);
  if (!speed) throw new Error(`echo: no speed measured for ${name}`);
  return speed;
}

/** @param {number} x */
const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/** @param {EchoResult} result */
export function render(result) {
  const { sourcePerplexity: base, budgets: b } = result;
  const src = speedOf(result, 'source');
  const rows = result.variants.map((v) => {
    const dropped = v.parameters.source - v.parameters.echo;
    const plan = v.reuse.map((r) => `${r.step}<-${r.source}`).join(',') || '(empty)';
    if (v.skipped || !v.perplexity) return `| ${v.name} | ${plan} | ${dropped} | — | — | — | — | — | ${v.skipped} |`;
    const speed = speedOf(result, v.name);
    const { before, after } = v.perplexity;
    const gap = before - base;
    const recovered = gap > 0 ? (before - after) / gap : Number.NaN;
    return `| ${v.name} | \`${plan}\` | ${dropped.toLocaleString('en-US')} | ${fmt(before)} | ${fmt(after)} | ${fmt(100 * recovered, 0)}% | ${fmt(speed.prefillTokensPerCpuSecond / src.prefillTokensPerCpuSecond)}× | ${fmt(speed.decodeTokensPerCpuSecond / src.decodeTokensPerCpuSecond)}× | ${readingOf(v.perplexity, base)} |`;
  });
  const speedRows = result.speed.map(
    (s) =>
      `| ${s.name} | ${s.parameters.toLocaleString('en-US')} | ${fmt(s.prefillTokensPerCpuSecond, 0)} | ${fmt(s.decodeTokensPerCpuSecond, 0)} | ${fmt(s.prefillTokensPerSecond, 0)} | ${fmt(s.decodeTokensPerSecond, 0)} |`,
  );
  return `stories260K (${result.source}); held-out text: the first ${b.heldChars.toLocaleString('en-US')} characters of
TinyStories-val (cut at a document end), training text the next ${b.trainChars.toLocaleString('en-US')}. Plans: \`auto\` at
attention-map similarity ≥ ${result.threshold} (measured on ${b.echoWindows} training windows of ${result.window} tokens) and an
explicit list. Recovery: \`recur train --distill --teacher SOURCE\`, ${b.steps} steps × ${b.batch} sequences × ${b.seq} tokens,
one thread. Perplexity: \`recur eval --window ${result.window}\` on the held-out text; the source scores ${fmt(base)}.
Recovered = (before − after) / (before − source). Speed: \`recur bench --threads 1 --prefill ${b.prefill} --decode ${b.decode}\`
on the fast path, source and trained echo models interleaved ${b.repeats}×, means; ratios are echo / source in tokens per
CPU-second.

| plan | reuse | q/k weights dropped | ppl before | ppl after | recovered | prefill tok/CPU-s | decode tok/CPU-s | reading |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |
${rows.join('\n')}

| model | parameters | prefill tok/CPU-s | decode tok/CPU-s | prefill tok/s (wall) | decode tok/s (wall) |
| --- | ---: | ---: | ---: | ---: | ---: |
${speedRows.join('\n')}
`;
}

/**
 * One sentence per variant from its numbers: is the recovered model usable, and did training close the gap.
 * @param {{ before: number, after: number }} perplexity @param {number} base
 */
function readingOf({ before, after }, base) {
  const state =
    after <= base * 1.05
      ? 'back within 5% of the source'
      : after < before
        ? `still ${fmt(after / base)}× the source's perplexity (degraded; its speed ratio is of a worse model)`
        : 'training did not lower perplexity';
  return state;
}
