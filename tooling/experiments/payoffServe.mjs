// The serving side of `pnpm experiment:payoff` (issue 15 §4): the same requests served by the same engine,
// the original model by continuous sequence-wise batching against the recursive one by continuous depth-wise
// batching (CDB) under each exit rule, all at once and under Poisson arrivals; then the served depth
// distribution replayed on the SmolLM-135M shape (random weights), where weight reads dominate.
import { convertModel, disposeModel, parseExitRule } from '../../packages/engine/dist/index.js';
import { presetModel, rng } from '../bench/serveRun.mjs';
import { conversion, executedLayers } from './payoffModel.mjs';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/** @typedef {import('../../packages/engine/dist/index.js').ServeRequest} ServeRequest */
/** @typedef {import('../../packages/engine/dist/index.js').ServingEngineOptions} ServingEngineOptions */
/** @typedef {{ tokensPerSecond: number, tokensPerCpuSecond: number, seconds: number, cpuSeconds: number, tokens: number, p50: number, p99: number, averageDepth: number }} Measured */
/** @typedef {(model: LoadedModel, requests: readonly ServeRequest[], options: Partial<ServingEngineOptions>, rate: number, seed: number) => Promise<Measured>} RunMode */
/** @typedef {{ name: string, rule: string | null, model: LoadedModel, options: Partial<ServingEngineOptions> }} Mode */
/** @typedef {{ name: string, rule: string | null, rate: number | 'all-at-once', runs: number } & Measured} ServedRow */

/** The ServingEngineOptions that serve `rule` depth-wise with `kvMode` (as the rule was scored). @param {string} rule @param {string} kvMode */
export function ruleServing(rule, kvMode) {
  const parsed = parseExitRule(rule);
  if (parsed.kind !== 'policy') throw new Error(`${rule}: the payoff serves confidence rules only`);
  return /** @type {Partial<ServingEngineOptions>} */ ({
    mode: 'continuous-depth',
    exit: parsed.policy,
    kvMode,
  });
}

/**
 * Every mode at every rate, `repeats` times, the modes interleaved within a repeat (the machine is
 * shared); each mode keeps its run of highest tokens per CPU-second (CPU time is what load inflates least).
 * @param {RunMode} runMode @param {Mode[]} modes @param {readonly ServeRequest[]} requests
 * @param {readonly number[]} rates @param {number} repeats @param {string} label
 * @returns {Promise<ServedRow[]>}
 */
export async function serveModes(runMode, modes, requests, rates, repeats, label) {
  /** @type {ServedRow[]} */
  const rows = [];
  for (const rate of rates) {
    /** @type {(Measured | undefined)[]} */
    const best = [];
    for (let rep = 0; rep < repeats; rep++)
      for (const [m, mode] of modes.entries()) {
        const r = await runMode(mode.model, requests, mode.options, rate, 11 + rep);
        if (!(r.tokensPerCpuSecond > (best[m]?.tokensPerCpuSecond ?? -1))) continue;
        best[m] = r;
      }
    for (const [m, mode] of modes.entries()) {
      const r = /** @type {Measured} */ (best[m]);
      const row = {
        name: mode.name,
        rule: mode.rule,
        rate: Number.isFinite(rate) ? rate : /** @type {const} */ ('all-at-once'),
        runs: repeats,
        ...pick(r),
      };
      console.log(
        `${label} | ${row.name} | rate ${row.rate} | ${r.tokensPerCpuSecond.toFixed(1)} tok/CPU-s | ${r.seconds.toFixed(2)} s | p50 ${r.p50.toFixed(0)} ms | p99 ${r.p99.toFixed(0)} ms | depth ${r.averageDepth.toFixed(2)}`,
      );
      rows.push(row);
    }
  }
  return rows;
}

/** The numbers a row keeps (not the profile). @param {Measured} r @returns {Measured} */
function pick(r) {
  const { tokensPerSecond, tokensPerCpuSecond, seconds, cpuSeconds, tokens, p50, p99, averageDepth } = r;
  return { tokensPerSecond, tokensPerCpuSecond, seconds, cpuSeconds, tokens, p50, p99, averageDepth };
}

/**
 * The SmolLM-135M shape (random weights, seed 1) and its conversion by the same recipe without LoRA
 * (SVD adapters of random residuals would only add work no trained model has), served sequence-wise
 * (vanilla), by CDB at fixed depths 2 and 1, and by CDB with stories260K rules' served depth distributions
 * replayed: after loop 1 a generated token goes on with probability `continueShare` (seeded draw), its
 * readout computed at loop 1 as a confidence rule's is.
 * @param {{ runMode: RunMode, tokenizer: LoadedModel['tokenizer'], requests: readonly ServeRequest[], replays: readonly { rule: string, continueShare: number }[], kvMode: string }} ctx
 */
export async function smollmReplay({ runMode, tokenizer, requests, replays, kvMode }) {
  const vanilla = presetModel('smollm-135m', tokenizer);
  const rec = await convertModel(vanilla, { ...conversion, ranks: { attention: 0, mlp: 0 }, loraInit: 'zero' });
  const draw = rng(29);
  /** @type {Mode[]} */
  const modes = [
    { name: 'vanilla, continuous sequence-wise', rule: null, model: vanilla, options: { mode: 'continuous-sequence' } },
    ...['fixed:2', 'fixed:1'].map((rule) => ({
      name: `middle-cycle × 2, CDB, ${rule}`,
      rule,
      model: rec,
      options: ruleServing(rule, kvMode),
    })),
    ...replays.map(({ rule, continueShare }) => ({
      name: `middle-cycle × 2, CDB, ${rule}'s depths replayed (${(100 * continueShare).toFixed(0)}% run loop 2)`,
      rule: `replay:${rule}`,
      model: rec,
      options: {
        mode: /** @type {const} */ ('continuous-depth'),
        kvMode: /** @type {ServingEngineOptions['kvMode']} */ (kvMode),
        continueAfter: () => draw() < continueShare,
      },
    })),
  ];
  const rows = await serveModes(runMode, modes, requests, [Infinity], 1, 'smollm');
  const layers = { source: vanilla.config.numLayers, ...executedLayers(rec) };
  disposeModel(rec);
  vanilla.decoder.dispose();
  return { rows, layers, replays, requests: requests.length };
}
