// The "uptrained recursive model" section of docs/results/adapters.md: how the second base was made, the same
// per-target tables and readings as for stories260K, and readings that set the two bases side by side. Every
// sentence is computed from adapters.json (adaptersReport.mjs calls this).
import { at, gridReadings, methodNames, targetTable } from './adaptersTables.mjs';

/** @typedef {import('./adaptersTables.mjs').Run} Run */
/** @typedef {import('./adaptersTables.mjs').Grid} Grid */
/**
 * adapters.json's `recursive`, as adapters.mjs writes it.
 * @typedef {{ run: false, why: string } | (Grid & { run: true, model: string, baseCached: boolean, methods: string[], skipped: string[],
 *   conversion: { strategy: string, loops: number, init: string, ranks: { attention: number, mlp: number }, loraInit: string, norms: string },
 *   layers: { fullDepth: number, loop1: number },
 *   uptraining: { tokens: number, steps: number, batch: number, seq: number, seed: number, distillation: string, corpusTokens: number, corpusCpuSeconds: number, cpuSeconds: number },
 *   runs: { count: number, cached: number, trainingCpuSeconds: number } })} Recursive
 */

/**
 * The section's lines (a "not run" note when the recursive grid was not run).
 * @param {Recursive | undefined} rec @param {Grid} flat the stories260K grid @param {string[]} domains
 */
export function recursiveSection(rec, flat, domains) {
  if (!rec?.run) return ['## Not run', '', `- The uptrained recursive model: ${rec?.why ?? 'not in this json'}.`, ''];
  const c = rec.conversion;
  const u = rec.uptraining;
  return [
    '## On the uptrained recursive model',
    '',
    `Base: ${rec.model}. Conversion (as \`pnpm experiment:payoff\` does it): ${c.strategy} × ${c.loops} loops, ${c.init} init, rank ${c.ranks.attention}/${c.ranks.mlp} (attention/MLP) ${c.loraInit} depth-wise LoRA, ${c.norms} norms; ${rec.layers.fullDepth} layers executed per token. Uptraining: ${u.steps} steps at batch ${u.batch} × ${u.seq} (${u.tokens.toLocaleString('en-US')} tokens) on ${u.corpusTokens.toLocaleString('en-US')} tokens stories260K sampled itself (seed ${u.seed}, temperature 1), distillation ${u.distillation}; ${u.cpuSeconds.toFixed(0)} CPU-seconds to build (the corpus ${u.corpusCpuSeconds.toFixed(0)} of them)${rec.baseCached ? ', by an earlier invocation' : ''}. Then the same per-run budget, learning rates and adapter shapes as above on this frozen base: ${rec.runs.count} training runs (${rec.runs.cached} reused from .cache/adapters/recursive), ${rec.runs.trainingCpuSeconds.toFixed(0)} training CPU-seconds.`,
    '',
    `Methods run: ${rec.methods.map((m) => methodNames[m] ?? m).join(', ')}.${rec.skipped.length > 0 ? ` Skipped for the CPU budget of the shared machine: ${rec.skipped.map((m) => methodNames[m] ?? m).join(', ')}.` : ''} The recursive base: ${domains.map((d) => `${d} ${at(rec.base.perplexity, d).toFixed(2)}`).join(', ')}.`,
    '',
    ...Object.entries(rec.targets).flatMap(([target, runs]) =>
      targetTable(target, /** @type {Run[]} */ (runs), rec.base.perplexity, domains),
    ),
    '### Readings (recursive base)',
    '',
    ...[...gridReadings(rec, domains), ...sideBySide(rec, flat, domains, u.tokens)].map((s) => `- ${s}`),
    '',
  ];
}

/**
 * The two bases compared: the frozen bases themselves, then how much each method moves its own base on the target.
 * @param {Grid} rec @param {Grid} flat @param {string[]} domains @param {number} uptrainTokens
 */
function sideBySide(rec, flat, domains, uptrainTokens) {
  const ratios = domains.map((d) => ({ d, ratio: at(rec.base.perplexity, d) / at(flat.base.perplexity, d) }));
  const weaker = ratios.filter((x) => x.ratio > 1.1).map((x) => x.d);
  const out = [
    `The recursive base's held-out perplexity ÷ stories260K's: ${ratios.map((x) => `${x.d} ${x.ratio.toFixed(2)}×`).join(', ')}${weaker.length > 0 ? ` — after ${uptrainTokens.toLocaleString('en-US')} uptraining tokens it is a weaker model than stories260K on ${weaker.join(', ')}, so the ratios below start from a worse base there` : ''}.`,
  ];
  for (const [target, runs] of Object.entries(rec.targets)) {
    const gains = runs.flatMap((run) => {
      const twin = flat.targets[target]?.find((x) => x.config.method === run.config.method);
      if (!twin) return [];
      const own = at(run.perplexity, target) / at(rec.base.perplexity, target);
      const other = at(twin.perplexity, target) / at(flat.base.perplexity, target);
      return [
        `${methodNames[run.config.method] ?? run.config.method} ${own.toFixed(3)}× (stories260K ${other.toFixed(3)}×)`,
      ];
    });
    if (gains.length > 0)
      out.push(`${target}: target perplexity ÷ its own base's, recursive vs stories260K: ${gains.join('; ')}.`);
  }
  return out;
}
