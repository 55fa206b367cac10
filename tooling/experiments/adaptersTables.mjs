// The per-base tables and readings of docs/results/adapters.md (adaptersReport.mjs renders the doc): the same
// for stories260K and for the uptrained recursive model. Every sentence is computed from adapters.json.

/** @typedef {{ config: { method: string, target: string, sources: string[] }, trainedParameters: number, steps: number, tokens: number, cpuSeconds: number, perplexity: Record<string, number> }} Run */
/** One base's grid, as adapters.json holds it. @typedef {{ base: { perplexity: Record<string, number> }, loras: Run[], targets: Record<string, Run[]> }} Grid */

export const methodNames = /** @type {Record<string, string>} */ ({
  lora: 'own-domain LoRA (rank 8)',
  scalearn: 'ScaLearn (vectors) over the other two',
  'scalearn-uniform': 'ScaLearnUniform over the other two',
  'scalearn-uniform-shared': 'ScaLearnUniform++ (shared) over the other two',
  gated: 'gated fusion over the other two',
  dvpt: 'DVPT (shared)',
  full: 'full fine-tuning',
});
export const compositionMethods = ['scalearn', 'scalearn-uniform', 'scalearn-uniform-shared', 'gated'];

/** @param {string} target @param {Run[]} runs @param {Record<string, number>} base @param {string[]} domains */
export function targetTable(target, runs, base, domains) {
  return [
    `### ${target}`,
    '',
    `| method | trainable parameters | steps / tokens | ${domains.map((d) => (d === target ? `**${d}** ppl` : `${d} ppl`)).join(' | ')} |`,
    `|---|---:|---|${domains.map(() => '---:').join('|')}|`,
    `| base (no training) | 0 | – | ${domains.map((d) => base[d]?.toFixed(2)).join(' | ')} |`,
    ...runs.map(
      (run) =>
        `| ${methodNames[run.config.method] ?? run.config.method} | ${run.trainedParameters.toLocaleString('en-US')} | ${run.steps} / ${run.tokens.toLocaleString('en-US')} | ${domains.map((d) => run.perplexity[d]?.toFixed(2)).join(' | ')} |`,
    ),
    '',
  ];
}

export const mean = (/** @type {number[]} */ xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
export const median = (/** @type {number[]} */ xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
};

/** `record[key]`, which the json always holds (a missing one is a broken file, not a blank cell). @param {Record<string, number>} record @param {string} key */
export function at(record, key) {
  const value = record[key];
  if (value === undefined) throw new Error(`adapters.json: no value for ${key}`);
  return value;
}

/** @param {Run[]} runs @param {string} domain */
const lowest = (runs, domain) => runs.reduce((a, b) => (at(b.perplexity, domain) < at(a.perplexity, domain) ? b : a));
const nameOf = (/** @type {Run} */ run) => methodNames[run.config.method] ?? run.config.method;

/** Sentences computed from one base's numbers. @param {Grid} r @param {string[]} domains */
export function gridReadings(r, domains) {
  const out = [];
  const targets = Object.entries(r.targets);
  for (const [target, runs] of targets) {
    const own = runs.find((x) => x.config.method === 'lora');
    const composed = runs.filter((x) => compositionMethods.includes(x.config.method));
    if (!own || composed.length === 0) continue;
    const best = lowest(composed, target);
    const [bestPpl, ownPpl, basePpl] = [
      at(best.perplexity, target),
      at(own.perplexity, target),
      at(r.base.perplexity, target),
    ];
    const gap = bestPpl / ownPpl;
    out.push(
      `${target}: the best composition over the other domains' adapters, ${nameOf(best)}, reaches perplexity ${bestPpl.toFixed(2)} — ${gap.toFixed(2)}× the own-domain LoRA's ${ownPpl.toFixed(2)} (${gap <= 1.05 ? 'near it' : 'not near it'}; the base: ${basePpl.toFixed(2)}${bestPpl >= basePpl ? ', which no composition beats here' : ''}), training ${best.trainedParameters.toLocaleString('en-US')} parameters against ${own.trainedParameters.toLocaleString('en-US')}.`,
    );
    const bestOverall = lowest(runs, target);
    out.push(
      `${target}: lowest target perplexity: ${nameOf(bestOverall)} (${at(bestOverall.perplexity, target).toFixed(2)}).`,
    );
  }
  out.push(...forgettingReadings(targets, r, domains));
  return out;
}

/**
 * Forgetting, in the two senses the grid allows: a single-domain method (own LoRA, DVPT, full fine-tuning) against
 * the base on the domains it was not trained for; a composition against its sources' own LoRAs on their domains
 * (it includes those adapters, so the base is no fair reference there).
 * @param {[string, Run[]][]} targets @param {Grid} r @param {string[]} domains
 */
function forgettingReadings(targets, r, domains) {
  /** @type {Map<string, number[]>} */
  const ratios = new Map();
  const add = (/** @type {string} */ method, /** @type {number} */ ratio) =>
    ratios.set(method, [...(ratios.get(method) ?? []), ratio]);
  for (const [target, runs] of targets)
    for (const run of runs)
      for (const d of domains.filter((x) => x !== target)) {
        const source = r.loras.find((l) => l.config.target === d);
        const composed = compositionMethods.includes(run.config.method);
        if (composed && !source) continue;
        add(
          run.config.method,
          at(run.perplexity, d) / at(composed && source ? source.perplexity : r.base.perplexity, d),
        );
      }
  const ranked = [...ratios].map(([method, xs]) => ({ method, ratio: mean(xs) })).sort((a, b) => a.ratio - b.ratio);
  const single = ranked.filter((x) => !compositionMethods.includes(x.method));
  const composed = ranked.filter((x) => compositionMethods.includes(x.method));
  const list = (/** @type {typeof ranked} */ xs) =>
    xs.map((x) => `${methodNames[x.method]} ${x.ratio.toFixed(3)}×`).join(', ');
  const out = [];
  if (single[0])
    out.push(
      `Forgetting of the single-domain methods (mean over targets of the held-out perplexity on the other two domains ÷ the base's, the result loaded; above 1 is forgetting): least ${methodNames[single[0].method]}; ${list(single)}. An adapter left unloaded changes nothing; full fine-tuning has no such switch.`,
    );
  if (composed[0])
    out.push(
      `The compositions on their source domains (held-out perplexity ÷ that domain's own LoRA, mean over targets and sources; 1 keeps the source's quality): best ${methodNames[composed[0].method]}; ${list(composed)}.`,
    );
  return out;
}
