// The rows of `pnpm experiment:sharing` (issue 17 §4): every sharing mechanism sized to land on each
// unique-parameter budget. A budget is a fraction over the tied model (middle-cycle × 2, no adapters);
// each mechanism's size knob is searched over a small grid by converting for real (the counts are what
// `convert --json` reports), and the rule that picks one setting is stated in the doc (see `pickSetting`).
import { convertMasa, convertModel, disposeModel } from '../../packages/engine/dist/index.js';
import { masaModules } from '../../packages/sharing/dist/index.js';
import { withoutFolder } from './sharingReport.mjs';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/** @typedef {{ mechanism: string, knobs: Record<string, number>, options: Record<string, unknown>, rank: number }} Setting */
/** @typedef {Setting & { adapterParameters: number, uniqueParameters: number }} CountedSetting */

/** The looping every recursive row shares: middle-cycle × 2 (floor depth fit), Average init, tied norms. */
export const looping = /** @type {const} */ ({ strategy: 'middle-cycle', loops: 2, init: 'average', norms: 'tied' });

/** Share of the budget's unique parameters within which settings count as on budget (then the highest rank wins). */
export const budgetTolerance = 0.005;

const uniform = (/** @type {number} */ r) => ({ attention: r, mlp: r });
const range = (/** @type {number} */ from, /** @type {number} */ to, step = 1) =>
  Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

/**
 * Each mechanism's knob grid. Depth-wise LoRA (Bae et al. 2024, arXiv 2410.20672) by rank, SVD init; MoS
 * (Wang et al. 2024, arXiv 2410.00938) by rank and public pool size; hyper and scaled (Polyhistor, Liu et al.
 * 2022, arXiv 2210.03265) by rank and, for hyper, the embedding width (hyper from its SVD fit and from zero).
 * @param {boolean} smoke a few points per mechanism only
 * @returns {Record<string, Setting[]>}
 */
export function settingGrid(smoke) {
  const ranks = smoke ? [1, 2, 4] : range(1, 24);
  const mosRanks = smoke ? [4] : [4, 8, 16, 24, 32];
  const pools = smoke ? [8, 16] : range(4, 96, 4);
  const hyperDims = smoke ? [2] : [2, 4, 8];
  const lora = (/** @type {number} */ r) => ({ ranks: uniform(r), loraInit: 'svd', loraKind: 'depthwise' });
  return {
    lora: ranks.map((r) => ({ mechanism: 'lora', knobs: { rank: r }, options: lora(r), rank: r })),
    mos: mosRanks.flatMap((r) =>
      pools.map((pool) => ({
        mechanism: 'mos',
        knobs: { rank: r, pool },
        rank: r,
        options: {
          ranks: uniform(r),
          loraInit: 'zero',
          loraKind: 'mos',
          mos: { pool, shards: 2, private: 0.25, subset: true, dissociation: true, seed: 0 },
        },
      })),
    ),
    hyper: hyperGrid(ranks.slice(0, 16), hyperDims, 'svd'),
    'hyper-zero': hyperGrid(ranks.slice(0, 16), hyperDims, 'zero'),
    scaled: (smoke ? ranks : range(1, 32)).map((r) => ({
      mechanism: 'scaled',
      knobs: { rank: r },
      rank: r,
      options: { ranks: uniform(r), loraInit: 'svd', loraKind: 'scaled' },
    })),
  };
}

/**
 * hyper's grid under one init: 'svd' fits the generators to the depth-wise SVD factors, 'zero' starts at the
 * tied model (G_B = 0) — both rows are kept, as the start is the one thing that differs.
 * @param {number[]} ranks @param {number[]} hyperDims @param {'svd' | 'zero'} loraInit @returns {Setting[]}
 */
function hyperGrid(ranks, hyperDims, loraInit) {
  return hyperDims.flatMap((h) =>
    ranks.map((r) => ({
      mechanism: loraInit === 'svd' ? 'hyper' : 'hyper-zero',
      knobs: { rank: r, hyperDim: h },
      rank: r,
      options: { ranks: uniform(r), loraInit, loraKind: 'hyper', hyper: { hyperDim: h } },
    })),
  );
}

/**
 * Converts `source` with one setting (or the tied model, `null`) and returns the converted model.
 * @param {LoadedModel} source @param {Setting | null} setting
 */
export function convertWith(source, setting) {
  const options = setting?.options ?? { ranks: uniform(0), loraInit: 'svd' };
  return convertModel(source, /** @type {any} */ ({ ...looping, ...options }));
}

/**
 * The unique parameters of every setting that converts (a MoS pool too small for its rank is refused by
 * `convert`; such settings are skipped), counted by converting for real.
 * @param {LoadedModel} source @param {Setting[]} settings @returns {Promise<CountedSetting[]>}
 */
export async function countSettings(source, settings) {
  /** @type {CountedSetting[]} */
  const counted = [];
  for (const setting of settings) {
    try {
      const converted = await convertWith(source, setting);
      counted.push({
        ...setting,
        adapterParameters: converted.parameters.lora,
        uniqueParameters: converted.parameters.shared + converted.parameters.lora,
      });
      disposeModel(converted);
    } catch (error) {
      // a MoS pool smaller than one step's public shards, or a rank the module cannot hold: not a candidate
      if (!/--mos-pool|does not fit/.test(String(error))) throw error;
    }
  }
  return counted;
}

/**
 * The setting for a budget of `target` unique parameters: among those within `budgetTolerance` of it, the
 * highest rank (the capacity a sharing scheme buys with its savings), then the closest; when none is within,
 * the closest of all.
 * @param {CountedSetting[]} counted @param {number} target
 */
export function pickSetting(counted, target) {
  if (counted.length === 0) throw new Error('pickSetting: no setting converted');
  const distance = (/** @type {CountedSetting} */ s) => Math.abs(s.uniqueParameters - target);
  const within = counted.filter((s) => distance(s) <= budgetTolerance * target);
  const pool = within.length > 0 ? within : counted;
  return pool.reduce((best, s) => {
    if (within.length > 0 && s.rank !== best.rank) return s.rank > best.rank ? s : best;
    return distance(s) < distance(best) ? s : best;
  });
}

/** MASA's S ≈ L/3 (the paper's on-par point): the nearest whole number of atoms, at least 1. @param {number} layers */
export const masaAtoms = (layers) => Math.max(1, Math.round(layers / 3));

/** Every attention projection type (q, k, v, o) MASA shares. */
export const masaAttention = masaModules;

/**
 * MASA combined with looping, both ways round, as `convert` answers it: MASA over a looped model and looping
 * over a MASA model; each answer is the refusal's one line, or null when the combination is allowed.
 * @param {LoadedModel} source @param {number} atoms
 */
export async function masaLoopingAnswers(source, atoms) {
  const attempt = async (/** @type {() => Promise<LoadedModel>} */ make) => {
    try {
      disposeModel(await make());
      return null;
    } catch (error) {
      return withoutFolder(String(/** @type {Error} */ (error).message ?? error));
    }
  };
  const looped = await convertWith(source, null);
  const masaOfLooped = await attempt(() => convertMasa(looped, { atoms, modules: masaAttention }));
  disposeModel(looped);
  const masa = await convertMasa(source, { atoms, modules: masaAttention });
  const loopedOfMasa = await attempt(() => convertWith(masa, null));
  disposeModel(masa);
  return { masaOfLooped, loopedOfMasa };
}
