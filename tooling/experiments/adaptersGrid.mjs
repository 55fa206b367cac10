// The training grid of pnpm experiment:adapters on one base (stories260K, or the uptrained recursive model): a
// LoRA per domain, then per target domain the chosen methods (compositions over the OTHER two domains' LoRAs,
// DVPT, full fine-tuning). Every run is cached by adapterRun under ctx.cache, so a base's grid can be filled by
// slices (ADAPTERS_TARGETS) in parallel and a later full invocation reuses them all.
import { adapterRun } from './adaptersRun.mjs';

/** @typedef {import('./adaptersRun.mjs').Method} Method */
/** @typedef {import('./adaptersData.mjs').Domain} Domain */
/** @typedef {Awaited<ReturnType<typeof adapterRun>>} Run */

/** Methods that compose the other domains' LoRAs (they need those LoRAs trained first). */
export const compositionMethods = /** @type {const} */ ([
  'scalearn',
  'scalearn-uniform',
  'scalearn-uniform-shared',
  'gated',
]);
/** Every per-target method after the own-domain LoRA, in table order. */
export const allMethods = /** @type {Method[]} */ ([...compositionMethods, 'dvpt', 'full']);

/**
 * Trains (or reuses) the grid on ctx.base.
 * @param {import('./adaptersRun.mjs').RunContext} ctx
 * @param {{ domains: Domain[], targets: Domain[], methods: Method[], loraDomains?: Domain[], budget: { steps: number, batch: number, seq: number }, seed: number, label: string }} plan
 *   loraDomains: the domains whose LoRAs to train (default all; a slice trains only its own and stops)
 */
export async function adapterGrid(ctx, { domains, targets, methods, loraDomains = domains, budget, seed, label }) {
  /** @param {Method} method @param {Domain} target @param {Domain[]} sources */
  const run = async (method, target, sources = []) => {
    const result = await adapterRun({ method, target, sources, ...budget, seed }, ctx);
    const ppl = Object.entries(result.perplexity).map(([d, p]) => `${d} ${p.toFixed(2)}`);
    console.log(
      `${label} | ${result.key}${result.cached ? ' (cached)' : ''} | ${result.trainedParameters} params | ${ppl.join(' · ')}`,
    );
    return result;
  };
  /** @type {Run[]} */
  const loras = [];
  for (const domain of loraDomains) {
    const lora = await run('lora', domain);
    ctx.loraDirs[domain] = lora.folder;
    loras.push(lora);
  }
  /** @type {Record<string, Run[]>} */
  const perTarget = {};
  if (loraDomains.length < domains.length) return { loras, perTarget, allRuns: loras };
  for (const target of targets) {
    const others = domains.filter((d) => d !== target);
    const own = loras.find((l) => l.config.target === target);
    if (!own) throw new Error(`${label}: no ${target} LoRA`);
    perTarget[target] = [own];
    for (const method of methods)
      perTarget[target].push(
        await run(method, target, /** @type {readonly string[]} */ (compositionMethods).includes(method) ? others : []),
      );
  }
  const allRuns = [
    ...loras,
    ...Object.values(perTarget).flatMap((runs) => runs.filter((x) => x.config.method !== 'lora')),
  ];
  return { loras, perTarget, allRuns };
}

/** What the doc states about a grid's runs. @param {Run[]} runs */
export function runSummary(runs) {
  return {
    count: runs.length,
    cached: runs.filter((x) => x.cached).length,
    // each run's own training CPU, whichever invocation trained it (cached runs keep theirs)
    trainingCpuSeconds: runs.reduce((n, x) => n + x.cpuSeconds, 0),
  };
}
