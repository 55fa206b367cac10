// experiment:adaptation §4 — dual self-distillation (DSD: "Dual Self-Distillation of U-shaped Networks", 2023):
// stories260K converted to middle-cycle ×3 and uptrained on TinyStories with a label loss at every exit and
// `--self-distill` none / logits / features / dual at the same budget; the early-exit curve (held-out perplexity when
// every token leaves after loop d) of each. Reading: does dual flatten the curve or improve the shallow exits?
import { convert, perLoopPerplexity, split, train } from './runs.mjs';

export const name = 'dsd';
export const title = 'Dual self-distillation: the early-exit curve';

/** @typedef {import('../adaptationReport.mjs').SectionContext} SectionContext */
/** @typedef {{ selfDistill: string, curve: number[], finalTrainLoss: number, cpuSeconds: number, tokensPerCpuSecond: number }} Variant */
/** @typedef {{ budget: Record<string, number | string>, conversion: string, converted: number[], variants: Variant[] }} DsdResult */

const kinds = ['none', 'logits', 'features', 'dual'];
const loops = 3;

/** @param {boolean} smoke */
function budgetFor(smoke) {
  return smoke
    ? { steps: 2, batch: 2, seq: 32, window: 32, trainBytes: 20_000, heldOutBytes: 1_500 }
    : { steps: 8, batch: 8, seq: 128, window: 128, trainBytes: 300_000, heldOutBytes: 10_000 };
}

/** @param {SectionContext} ctx @returns {Promise<DsdResult>} */
export async function run(ctx) {
  const b = budgetFor(ctx.smoke);
  const data = split(ctx, 'stories', b);
  const conversionArgs = [
    '--strategy',
    'middle-cycle',
    '--loops',
    String(loops),
    '--init',
    'average',
    '--norms',
    'per-loop',
  ];
  const model = convert(ctx, 'mc3', conversionArgs);
  const converted = perLoopPerplexity(ctx, model, data.heldOut, b.window);
  // Smoke runs the two ends of the comparison only (each CLI run costs ~2 CPU-s to start).
  const list = ctx.smoke ? ['none', 'dual'] : kinds;
  // The variants train side by side (separate processes), then are scored one after another.
  const runs = await Promise.all(
    list.map((kind) => {
      const distill = kind === 'none' ? [] : ['--self-distill', kind];
      const args = ['--model', model, '--data', data.train, '--exit-loss', ...distill];
      const sizes = ['--steps', String(b.steps), '--batch', String(b.batch), '--seq', String(b.seq)];
      return train(ctx, `dsd-${kind}`, [...args, ...sizes, '--save-every', String(b.steps)]);
    }),
  );
  const variants = list.map((kind, i) => {
    const s = /** @type {import('./runs.mjs').TrainSummary} */ (runs[i]);
    const curve = perLoopPerplexity(ctx, s.modelDir, data.heldOut, b.window);
    ctx.log(`${kind}: per-loop ppl ${curve.map((p) => p.toFixed(2)).join(' / ')}`);
    return {
      selfDistill: kind,
      curve,
      finalTrainLoss: s.finalTrainLoss,
      cpuSeconds: s.cpuSeconds,
      tokensPerCpuSecond: s.tokensPerCpuSecond,
    };
  });
  return {
    budget: { ...b, trainTokensPerVariant: b.steps * b.batch * b.seq, variants: ctx.smoke ? 2 : kinds.length },
    conversion: `recur convert stories260K ${conversionArgs.join(' ')}`,
    converted,
    variants,
  };
}

const fmt = (/** @type {number} */ x, /** @type {number} */ d = 2) => x.toFixed(d);
const first = (/** @type {number[]} */ c) => c[0] ?? Number.NaN;
const deepest = (/** @type {number[]} */ c) => c.at(-1) ?? Number.NaN;
/** Deepest-loop over loop-1 perplexity: 1 is a flat curve, small is steep. @param {number[]} c */
const flatness = (c) => deepest(c) / first(c);
/** How far a curve is from flat either way (|ln ratio|; 0 = flat). @param {number[]} c */
const tilt = (c) => Math.abs(Math.log(flatness(c)));

/** @param {DsdResult} r */
export function render(r) {
  const depth = r.converted.length;
  const head = Array.from({ length: depth }, (_, i) => `loop ${i + 1}`);
  const row = (/** @type {string} */ label, /** @type {number[]} */ c, /** @type {string} */ rest) =>
    `| ${label} | ${c.map((p) => fmt(p)).join(' | ')} | ${fmt(flatness(c), 3)} | ${rest} |`;
  const none = r.variants.find((v) => v.selfDistill === 'none');
  const dual = r.variants.find((v) => v.selfDistill === 'dual');
  const best = [...r.variants].sort((a, b) => first(a.curve) - first(b.curve))[0];
  const flattest = [...r.variants].sort((a, b) => tilt(a.curve) - tilt(b.curve))[0];
  const readings = [];
  if (none && dual) {
    const shallow = first(dual.curve) / first(none.curve);
    const deep = deepest(dual.curve) / deepest(none.curve);
    readings.push(
      `Dual vs exit losses alone: loop-1 perplexity ×${fmt(shallow, 3)} (${shallow < 1 ? 'better' : 'not better'}), deepest loop ×${fmt(deep, 3)} (${deep <= 1 ? 'no cost' : 'a cost'} at full depth); curve ratio (deepest / loop 1) ${fmt(flatness(dual.curve), 3)} vs ${fmt(flatness(none.curve), 3)} — dual ${tilt(dual.curve) < tilt(none.curve) ? 'flattens' : 'does not flatten'} the curve (|ln ratio| ${fmt(tilt(dual.curve), 3)} vs ${fmt(tilt(none.curve), 3)}).`,
    );
  }
  if (best) readings.push(`Best shallow exit (loop 1): \`${best.selfDistill}\` at ${fmt(first(best.curve))}.`);
  if (flattest)
    readings.push(
      `Flattest curve (ratio nearest 1): \`${flattest.selfDistill}\` (ratio ${fmt(flatness(flattest.curve), 3)}).`,
    );
  return `Converted model: \`${r.conversion}\` (${depth} exits), each variant uptrained with \`recur train --exit-loss
[--self-distill KIND]\` on the same ${r.budget.trainTokensPerVariant} TinyStories tokens (${r.budget.steps} steps × ${r.budget.batch} × ${r.budget.seq}),
then scored with \`recur eval --per-loop\` on ${r.budget.heldOutBytes} held-out bytes never trained on (window ${r.budget.window}).
The ratio column is deepest-loop perplexity over loop-1 perplexity (1 = flat curve).

| self-distill | ${head.join(' | ')} | ratio | tokens / CPU-s |
|---|${head.map(() => '---|').join('')}---|---|
${row('(converted, untrained)', r.converted, '—')}
${r.variants.map((v) => row(v.selfDistill, v.curve, fmt(v.tokensPerCpuSecond, 0))).join('\n')}

${readings.map((s) => `- ${s}`).join('\n')}`;
}
