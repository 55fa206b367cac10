// The readings of docs/results/uptraining.md, each computed from the runs present (issue 15 §3 and §5): the three
// targets, then what explains a miss — the rank ladder, Lower against Average, ×3 against ×2, and the control run
// (×3 Average + full-rank SVD starts as the original exactly, so what uptraining does to it is the corpus's and the
// objective's doing, not the recursion's).

const fmt = (/** @type {number} */ n) => n.toLocaleString('en-US');
const f3 = (/** @type {number} */ x) => x.toFixed(3);

/** @template T @param {T[]} xs @returns {T} */
function last(xs) {
  return /** @type {T} */ (xs[xs.length - 1]);
}

/** Held-out perplexity at the deepest exit after uptraining. @param {any} r */
const deep = (r) => last(r.perplexityPerLoop.afterUptraining);

/** @param {any} d @returns {string[]} */
export function readings(d) {
  /** @param {any} q */
  const find = (q) => d.runs.find((/** @type {any} */ r) => Object.entries(q).every(([k, v]) => r.config[k] === v));
  const original = d.original.perplexity;
  return [
    budgetReading(d),
    ...targetReadings(d, find, original),
    ...whyReadings(find, original),
    ...notRunReadings(d),
  ].filter((x) => x !== null);
}

/** @param {any} d */
function budgetReading(d) {
  const budget = Math.min(...d.runs.map((/** @type {any} */ r) => r.trainedTokens));
  return budget >= 5e6
    ? `Every run trained ≥ 5M tokens (issue 15 §3's budget).`
    : `Budget: ${fmt(budget)} tokens per run, below issue 15 §3's ≥ 5M — these are short-budget numbers, not a verdict on the recipe.`;
}

/** @param {any} d @param {(q: any) => any} find @param {number} original */
function targetReadings(d, find, original) {
  const out = [];
  const r8 = find({ loops: 2, init: 'average', rank: 8, seed: 0 });
  const r0 = find({ loops: 2, init: 'average', rank: 0, seed: 0 });
  if (r8) {
    const ratio = deep(r8) / original;
    out.push(
      `Target 1 (relaxed rank 8 within 10% of the original): ×2 Average+SVD rank 8 is at ${f3(ratio)}× the original's perplexity — ${ratio <= 1.1 ? 'met' : 'missed'}.`,
    );
  }
  if (r8 && r0) out.push(rankTarget(find, r8, r0));
  const notFalling = d.runs.filter((/** @type {any} */ r) => {
    const p = r.perplexityPerLoop.afterUptraining;
    return !p.every((/** @type {number} */ x, /** @type {number} */ i) => i === 0 || x < p[i - 1]);
  });
  out.push(
    `Target 3 (deeper exits better): ${d.runs.length - notFalling.length} of ${d.runs.length} runs have per-loop perplexity falling with every loop${
      notFalling.length
        ? `; not: ${notFalling.map((/** @type {any} */ r) => `${label(r)} (${r.perplexityPerLoop.afterUptraining.map(f3).join(' / ')})`).join(', ')}`
        : ''
    }.`,
  );
  return out;
}

/** Target 2, backed by the second seed when both seeds ran. @param {(q: any) => any} find @param {any} r8 @param {any} r0 */
function rankTarget(find, r8, r0) {
  const met = deep(r8) < deep(r0);
  const r8b = find({ loops: 2, init: 'average', rank: 8, seed: 1 });
  const r0b = find({ loops: 2, init: 'average', rank: 0, seed: 1 });
  let seeds = ' (one seed only)';
  if (r8b && r0b) {
    // the second seed backs the comparison when both seeds agree and the gap exceeds the seed-to-seed spread
    const spread = Math.max(Math.abs(deep(r8) - deep(r8b)), Math.abs(deep(r0) - deep(r0b)));
    const gap = Math.min(Math.abs(deep(r0) - deep(r8)), Math.abs(deep(r0b) - deep(r8b)));
    const agree = deep(r8b) < deep(r0b) === met;
    seeds = `; seed 1: ${f3(deep(r8b))} vs ${f3(deep(r0b))}; the smaller gap between ranks (${f3(gap)}) is ${(gap / Math.max(spread, 1e-9)).toFixed(1)}× the largest seed-to-seed difference (${f3(spread)})${agree && gap > spread ? ', so the seeds back it' : ', so it is within seed noise'}`;
  }
  return `Target 2 (rank 8 better than rank 0): ${f3(deep(r8))} vs ${f3(deep(r0))} — ${met ? 'met' : 'missed'}${seeds}.`;
}

/** What the other runs say about a missed target 1. @param {(q: any) => any} find @param {number} original */
function whyReadings(find, original) {
  const out = [];
  const control = find({ loops: 3, init: 'average', rank: 'full', seed: 0 });
  if (control) {
    const start = last(control.perplexityPerLoop.afterConversion);
    out.push(
      `Control: ×3 Average + full-rank SVD runs every source layer (${control.sourceLayers?.join(', ') ?? '—'}) and starts at ${f3(start)} (${f3(start / original)}× the original); the same uptraining takes it to ${f3(deep(control))} (${f3(deep(control) / original)}×), so the teacher-written corpus and the objective alone move the original's held-out perplexity by ${pct(deep(control) / start)}.`,
    );
    const r8 = find({ loops: 2, init: 'average', rank: 8, seed: 0 });
    if (r8)
      out.push(
        `Against the control instead of the original, ×2 Average+SVD rank 8 is at ${f3(deep(r8) / deep(control))}× (${deep(r8) / deep(control) <= 1.1 ? 'within' : 'outside'} 10%).`,
      );
    const full2 = find({ loops: 2, init: 'average', rank: 'full', seed: 0 });
    if (r8 && full2)
      out.push(
        `Where target 1's gap goes (factors of the deepest exit's perplexity, multiplying to ${f3(deep(r8) / original)}×): uptraining itself ${f3(deep(control) / original)}× (the control); the layers ×2 leaves out ${f3(deep(full2) / deep(control))}× (×2 full rank, which recovers the layers it runs exactly, ${full2.sourceLayers?.join(', ') ?? '—'}, against the control); tying at rank 8 ${f3(deep(r8) / deep(full2))}× (rank 8 against full rank).`,
      );
  }
  for (const init of ['average', 'lower']) {
    const ladder = byRank(find, RANKS, { loops: 2, init });
    if (ladder.length > 1)
      out.push(
        `×2 ${init} by LoRA rank: ${ladder.map(([rank, r]) => `${rank} → ${f3(deep(r))}`).join(', ')} (${f3(deep(last(ladder)[1]) / original)}× the original at the highest rank run).`,
      );
  }
  const both = byRank(find, RANKS, { loops: 2, init: 'average' }, { loops: 2, init: 'lower' });
  if (both.length)
    out.push(
      `Lower / Average (×2, deepest exit) by rank: ${both.map(([rank, a, l]) => `${rank}: ${f3(deep(l) / deep(a))}`).join(', ')} (below 1: Lower better).`,
    );
  const depthPairs = byRank(find, RANKS, { loops: 2, init: 'average' }, { loops: 3, init: 'average' });
  if (depthPairs.length)
    out.push(
      `×3 / ×2 (Average, deepest exit) by rank: ${depthPairs.map(([rank, a, b]) => `${rank}: ${f3(deep(b) / deep(a))}`).join(', ')} (${layersOf(/** @type {any[]} */ (depthPairs[0]))}).`,
    );
  return out;
}

const RANKS = [0, 8, 16, 'full'];

/**
 * [rank, run of each query at that rank (seed 0)] for the ranks where every query ran.
 * @param {(q: any) => any} find @param {(number | string)[]} ranks @param {...any} queries @returns {any[][]}
 */
function byRank(find, ranks, ...queries) {
  return ranks
    .map((rank) => [rank, ...queries.map((q) => find({ ...q, rank, seed: 0 }))])
    .filter((row) => row.slice(1).every(Boolean));
}

/** @param {any[]} pair [rank, ×2 run, ×3 run] */
function layersOf([, two, three]) {
  return `×2 runs source layers ${two.sourceLayers?.join(', ') ?? '—'}, ×3 runs ${three.sourceLayers?.join(', ') ?? '—'}`;
}

/** @param {number} ratio */
const pct = (ratio) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%`;

/** @param {any} r */
const label = (r) => `×${r.config.loops} ${r.config.init} r${r.config.rank} seed ${r.config.seed}`;

/** @param {any} d */
function notRunReadings(d) {
  const out = [];
  if (d.notRun?.length)
    out.push(
      `Not run at this budget (the grid's remaining configurations): ${d.notRun.map((/** @type {string} */ k) => `\`${k}\``).join(', ')}.`,
    );
  const tps = d.runs.map((/** @type {any} */ r) => r.tokensPerSecond);
  if (tps.length)
    out.push(
      `Training ran at ${Math.min(...tps).toFixed(0)}–${Math.max(...tps).toFixed(0)} tokens/s (wall, teacher forward included).`,
    );
  return out;
}
