// pnpm experiment:conversion — stories260K converted to a Relaxed Recursive Transformer (Bae et al. 2024,
// "Relaxed Recursive Transformers", arXiv 2410.20672), before any training: perplexity for strategy × init ×
// LoRA rank at N = 2 and 3, then (issue 15 §2) the rank curve of middle-cycle × 2 at every exit for Average and
// Lower init against the source restricted to the executed layers, with the residual energy each rank keeps.
// Writes docs/results/rrt-conversion.json and (conversionReport.mjs) rrt-conversion.md, or into CONVERSION_OUT.
// Env: EXPERIMENT_BYTES (grid text, default 16384), GRID_RANKS (e.g. 0,8,full; default 0,2,4,8,16,full), CURVE_BYTES (curve text, default 30000 as uptraining.md);
// `--smoke` (or CONVERSION_SMOKE=1): one strategy and init in the grid, three curve ranks, 2 KB of text.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  convertModel,
  decodeUtf8Prefix,
  disposeModel,
  evaluateDepths,
  evaluatePerplexity,
  perplexityWindows,
  sourceRestrictedTo,
} from '../../packages/engine/dist/index.js';
import { heldOutLoss, loadModel } from '../../packages/engine/dist/node.js';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { loadWindow, machineDescription } from '../bench/record.mjs';
import { renderConversion, writeConversion } from './conversionReport.mjs';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/** @typedef {import('../../packages/graph/dist/index.js').SharingStrategy} SharingStrategy */
/** @typedef {import('../../packages/graph/dist/index.js').InitStrategy} InitStrategy */
/** @typedef {number | 'full'} Rank */

const root = fileURLToPath(new URL('../../', import.meta.url));
const smoke = process.argv.includes('--smoke') || process.env.CONVERSION_SMOKE === '1';
const out = process.env.CONVERSION_OUT ?? `${root}docs/results`;
const corpus = `${root}../shared/corpora/tinystories_val/tinystories_val.txt`;
const gridBytes = Number(process.env.EXPERIMENT_BYTES ?? (smoke ? 2048 : 16384));
const curveBytes = Number(process.env.CURVE_BYTES ?? (smoke ? 2048 : 30000));
const window = 256;
/** @type {SharingStrategy[]} */
const strategies = smoke ? ['middle-cycle'] : ['cycle', 'sequence', 'middle-cycle', 'middle-sequence'];
/** @type {InitStrategy[]} */
const inits = smoke ? ['average'] : ['stepwise', 'average', 'lower'];
/** @type {Rank[]} */
const ranks = smoke
  ? [0, 'full']
  : (process.env.GRID_RANKS?.split(',').map((k) => (k === 'full' ? 'full' : Number(k))) ?? [0, 2, 4, 8, 16, 'full']);
if (ranks.some((k) => k !== 'full' && !(Number.isInteger(k) && k >= 0)))
  throw new RangeError(`GRID_RANKS=${process.env.GRID_RANKS}: comma-separated whole numbers or full`);
const loopCounts = smoke ? [2] : [2, 3];
/** @type {Rank[]} */
const curveRanks = smoke ? [0, 8, 'full'] : [0, 4, 8, 16, 32, 'full'];
/** @type {InitStrategy[]} */
const curveInits = ['average', 'lower'];
/** Every conversion here: per-loop norms (what uptraining uses; tied ones cannot be restored by any rank). */
const norms = /** @type {const} */ ('per-loop');

await initBackend();
const started = performance.now();
const cpuStart = process.cpuUsage();
const loadSpan = loadWindow();
const bytes = readFileSync(corpus);
const source = await loadModel(`${root}../shared/models/stories260K/hf`);
const gridText = decodeUtf8Prefix(bytes, gridBytes);
const sourcePerplexity = (await evaluatePerplexity(source, gridText, { window })).perplexity;
const grid = [];
for (const loops of loopCounts)
  for (const strategy of strategies) for (const init of inits) grid.push(await gridRow(loops, strategy, init));
const curve = await rankCurve(decodeUtf8Prefix(bytes, curveBytes));
const cpu = process.cpuUsage(cpuStart);
disposeModel(source);

const results = {
  smoke,
  norms,
  loraInit: 'svd',
  depthFit: 'floor',
  window,
  gridBytes,
  sourceParameters: source.decoder.parameterCount,
  sourcePerplexity,
  ranks,
  grid,
  curve,
  commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(),
  date: new Date().toISOString(),
  machine: machineDescription(),
  nproc: os.cpus().length,
  seeds: { svd: 0 },
  minutes: (performance.now() - started) / 60000,
  cpuMinutes: (cpu.user + cpu.system) / 6e7,
  loadAverage: loadSpan(),
  command: `${smoke ? 'node tooling/experiments/conversion.mjs --smoke' : 'pnpm experiment:conversion'} (EXPERIMENT_BYTES=${gridBytes} CURVE_BYTES=${curveBytes} GRID_RANKS=${ranks.join(',')})`,
};
mkdirSync(out, { recursive: true });
writeConversion(out, results, renderConversion(results));
console.log(`wrote ${out}/rrt-conversion.json and rrt-conversion.md (${results.cpuMinutes.toFixed(1)} CPU-min)`);

/**
 * One strategy × init at every grid rank: perplexity straight after conversion, unique parameters.
 * @param {number} loops @param {SharingStrategy} strategy @param {InitStrategy} init
 */
async function gridRow(loops, strategy, init) {
  const cells = [];
  /** @type {{ blockSize: number, warning: string | null, sourceLayers: number[] }} */
  let plan = { blockSize: 0, warning: null, sourceLayers: [] };
  for (const rank of ranks) {
    const model = await convert(loops, strategy, init, rank);
    const perplexity = (await evaluatePerplexity(model, gridText, { window })).perplexity;
    cells.push({ rank, perplexity, parameters: model.parameters.shared + model.parameters.lora });
    plan = {
      blockSize: model.plan.blockSize,
      warning: model.plan.warning ?? null,
      sourceLayers: model.plan.steps.map((s) => s.sourceLayer),
    };
    disposeModel(model);
  }
  console.log(`N=${loops} ${strategy} ${init} ${cells.map((c) => `r${c.rank}:${c.perplexity.toFixed(2)}`).join(' ')}`);
  return { loops, strategy, init, ...plan, cells };
}

/**
 * Middle-cycle × 2 (floor fit: steps run source layers [0, 1, 3, 4]) for Average and Lower init at every
 * curve rank: perplexity at each exit (loop 1 = layers [0, 1, 4] of the source's kind, loop 2 = all four),
 * the residual energy each loop's truncations keep, and the source restricted to what each exit runs.
 * @param {string} text
 */
async function rankCurve(text) {
  const windows = perplexityWindows(source, text, window);
  const tokens = windows.reduce((n, w) => n + w.length - 1, 0);
  const exitPerplexity = (/** @type {LoadedModel} */ m) =>
    evaluateDepths(m, { windows, perLoop: true }).perLoop.map((p) => p.perplexity);
  const probe = await convert(2, 'middle-cycle', 'lower', 0);
  const executed = probe.plan.steps.map((s) => s.sourceLayer);
  // what a token leaving after loop 1 runs: prologue, the block's first loop, epilogue
  const loop1Layers = probe.plan.steps.filter((s) => s.role !== 'shared' || s.loop === 0).map((s) => s.sourceLayer);
  disposeModel(probe);
  const references = [];
  for (const layers of [loop1Layers, executed]) {
    const restricted = await sourceRestrictedTo(source, layers);
    references.push({ layers, perplexity: Math.exp(heldOutNll(restricted, windows)) });
    disposeModel(restricted);
  }
  const rows = [];
  for (const init of curveInits)
    for (const rank of curveRanks) {
      const model = await convert(2, 'middle-cycle', init, rank);
      const row = { init, rank, exits: exitPerplexity(model), energy: loopEnergy(model) };
      console.log(
        `curve ${init} r${rank}: exits ${row.exits.map((p) => p.toFixed(2)).join(' / ')}, kept ${row.energy.map((e) => e.kept.toFixed(3)).join(' / ')}`,
      );
      rows.push(row);
      disposeModel(model);
    }
  return {
    bytes: curveBytes,
    windows: windows.length,
    tokens,
    sourcePerplexity: Math.exp(heldOutNll(source, windows)),
    executed,
    references,
    rows,
  };
}

/**
 * Per loop: the residual energy of its SVD truncations (Σ‖R‖_F², summed over modules) and the share kept.
 * @param {Awaited<ReturnType<typeof convertModel>>} model
 */
function loopEnergy(model) {
  /** @type {{ residual: number, kept: number }[]} */
  const loops = [];
  for (const e of model.loraEnergy) {
    const loop = Number(/loop(\d+)$/.exec(e.name)?.[1] ?? Number.NaN);
    loops[loop] ??= { residual: 0, kept: 0 };
    const slot = loops[loop];
    slot.residual += e.residualEnergy;
    slot.kept += e.captured * e.residualEnergy;
  }
  return loops.map(({ residual, kept }) => ({ residual, kept: residual > 0 ? kept / residual : 1 }));
}

/** Mean NLL of a plain model over perplexity windows (every layer, no exits). @param {LoadedModel} model @param {number[][]} windows */
function heldOutNll(model, windows) {
  return heldOutLoss(
    model.decoder,
    windows.map((w) => Int32Array.from(w)),
  ).meanNll;
}

/** @param {number} loops @param {SharingStrategy} strategy @param {InitStrategy} init @param {Rank} rank */
function convert(loops, strategy, init, rank) {
  return convertModel(source, {
    loops,
    strategy,
    init,
    depthFit: 'floor',
    ranks: { attention: rank, mlp: rank },
    loraInit: 'svd',
    norms,
  });
}
