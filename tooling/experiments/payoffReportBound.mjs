// The compute bound of docs/results/payoff.md (payoffReport.mjs): how large a speedup depth alone allows — the
// original's layers per generated token over the recursive model's — on stories260K and on the SmolLM-135M shape,
// next to what was measured, so the page says whether the goal was physically reachable at that scale.
import { brokenRatio, fmt } from './payoffReportSetup.mjs';

/** @typedef {import('./payoffReport.mjs').PayoffResults} PayoffResults */
/** @typedef {import('./payoffReport.mjs').Layers} Layers */
/** @typedef {import('./payoffServe.mjs').ServedRow} ServedRow */

/**
 * The most a speedup can be from depth alone: the original's layers per token over the recursive model's at
 * `averageDepth` loops (two loops: `loop1` layers, then the shared block's `fullDepth − loop1` for each further
 * loop). Embedding and LM head cost the same on both sides, so counting them would only lower it.
 * @param {Layers} layers @param {number} averageDepth
 */
export function depthBound(layers, averageDepth) {
  return layers.source / (layers.loop1 + (averageDepth - 1) * (layers.fullDepth - layers.loop1));
}

/** Whether the goal was reachable at all from depth, on stories260K and on the SmolLM-135M shape. @param {PayoffResults} r */
export function computeBound(r) {
  const stories = shapeBound(r, 'stories260K', r.uptraining.layers, r.served);
  const smol = shapeBound(r, 'SmolLM-135M shape (random weights, the same depths)', r.smollm.layers, r.smollm.rows);
  const head = r.served.find((s) => s.rule === r.exitRule && s.rate === 'all-at-once');
  const share = (/** @type {Layers} */ l) => `${fmt((100 * l.loop1) / l.source, 0)}%`;
  return `**Compute bound** (layers executed per generated token; embedding and head cost the same on both sides):
- ${stories.text}
- At the headline rule's served depth (${fmt(head?.averageDepth ?? Number.NaN)} loops) depth allows at most ${fmt(r.depthBound)}×; measured ${fmt(r.speedupTokensPerCpuSecond)}×${r.perplexityRatio > brokenRatio ? ' (on a broken model)' : ''}.
- ${smol.text}
- From stories260K to the SmolLM-135M shape, a token leaving after loop 1 runs ${share(r.uptraining.layers)} → ${share(r.smollm.layers)} of the original's layers: the bound
  moves from ${fmt(stories.best)}× to ${fmt(smol.best)}×, and the share of it measured from ${fmt(100 * stories.share, 0)}% to ${fmt(100 * smol.share, 0)}%.`;
}

/**
 * One shape's bound and how much of it fixed:1 realised (tokens/CPU-s against the vanilla model, all at once).
 * @param {PayoffResults} r @param {string} name @param {Layers} l @param {ServedRow[]} rows
 */
function shapeBound(r, name, l, rows) {
  const best = depthBound(l, 1);
  const all = rows.filter((s) => s.rate === 'all-at-once');
  const base = all.find((s) => s.rule === null);
  const one = all.find((s) => s.rule === 'fixed:1');
  const measured = base && one ? one.tokensPerCpuSecond / base.tokensPerCpuSecond : Number.NaN;
  const goal = r.target.speedup;
  const text = `${name}: the original runs ${l.source} layers per token, the recursive model ${l.fullDepth} at full depth and ${l.loop1} after loop 1, so depth
  alone allows at most ${fmt(depthBound(l, 2))}× at full depth and ${fmt(best)}× with every token leaving after loop 1 — ${best >= goal ? `${goal}× is reachable from depth` : `**${goal}× is not reachable from depth at any exit rule**`} (${goal}× needs at most ${fmt(l.source / goal, 1)} layers per token). Measured with every token leaving after loop 1: ${fmt(measured)}× (${fmt((100 * measured) / best, 0)}% of that bound${measured > best ? ': above it, so something besides depth — scheduling, batching or timing noise — is in the ratio' : ''}).`;
  return { text, best, share: measured / best };
}
