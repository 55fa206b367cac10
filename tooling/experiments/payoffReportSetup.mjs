// The Setup items of docs/results/payoff.md (payoffReport.mjs): the model, its PyTorch uptraining and the MoR
// routers, every setting read from payoff.json (the uptraining's from experiment:uptraining's `training` object);
// and the number formats and the broken-model threshold every part of the page shares.

/** @typedef {import('./payoffReport.mjs').PayoffResults} PayoffResults */

/** A perplexity ratio past which a row's model is called broken (no replacement for the original), not merely worse. */
export const brokenRatio = 1.5;
export const fmt = (/** @type {number} */ n, /** @type {number} */ digits = 2) => n.toFixed(digits);
export const int = (/** @type {number} */ n) => Math.round(n).toLocaleString('en-US');

/** The model and its conversion, as a Setup item. @param {PayoffResults} r */
export function modelSetup(r) {
  const { config, layers } = r.uptraining;
  return `- **Model.** ${r.model}: stories260K's ${layers.source} layers as a first and a last unique layer around a shared block
  looped ${config.loops === 2 ? 'twice' : `${config.loops} times`} (the public code's floor depth fit): a token runs ${layers.fullDepth} layers at full depth and ${layers.loop1} when it leaves
  after loop 1. ${config.init === 'average' ? 'Average' : 'Lower'} init and rank-${config.rank} truncated-SVD depth-wise LoRA, per-loop norms (Bae et al. 2024, arXiv 2410.20672).`;
}

/** The PyTorch uptraining run, every setting read from the run's record. @param {PayoffResults} r */
export function uptrainingSetup(r) {
  const u = r.uptraining;
  const t = u.training;
  const perLoop = (/** @type {number[]} */ ps) => ps.map((p) => fmt(p, 2)).join(' / ');
  return `- **Uptraining: ${int(u.trainedTokens)} tokens** in PyTorch — experiment:uptraining's run \`${u.key}\` (${u.cached ? 'reused from its cache' : 'trained by this run into the cache'}, \`${u.cache}\`):
  the row of [uptraining.md](uptraining.md) with that key, when that grid ran at this budget, is this model. ${u.steps} steps × ${t.batch} × ${t.seq} tokens — ${fmt((100 * u.trainedTokens) / r.budget.issueTokens, 1)}% of the
  ${int(r.budget.issueTokens)} tokens issue 15 asks for; ${fmt(u.tokensPerSecond, 0)} training tokens/s (wall, teacher forward included${u.cpuSeconds === null ? '' : `; ${fmt(u.trainedTokens / u.cpuSeconds, 0)} per CPU-second`}, ${t.threads} thread${t.threads === 1 ? '' : 's'}, load ${u.loadAverage.before} at its start).
  \`recur export --torch\` + \`uptrain_recur.py\` (${u.python}, BLAS ${u.blas}); loss on the exit after every loop (equal weights), each distilled from the
  original: ${t.distillAlpha} · T² KL at T = ${t.distillTemperature} + ${fmt(1 - t.distillAlpha, 1)} · CE; AdamW, peak lr ${t.lr}, ${fmt(100 * t.warmupFraction, 0)}% warmup, cosine to ${t.minLrRatio}× peak,
  weight decay ${t.weightDecay}, clip ${t.clip}; ${t.trainable} trained; seed ${u.config.seed}. Data: ${int(u.corpus.tokens)} tokens of the original's own text
  (\`recur sample-corpus\`, temperature 1, seed ${u.corpus.seed}; \`${u.corpus.file}\`, not committed), read cyclically. Per-loop perplexity as
  experiment:uptraining scores it (${u.heldOut ? `the first ${int(u.heldOut.characters)} characters of \`${u.heldOutFile}\`, windows of ${u.heldOut.window}` : `its held-out slice of \`${u.heldOutFile}\`, see uptraining.md`}): ${perLoop(u.perplexityPerLoop.afterConversion)} after
  conversion, ${perLoop(u.perplexityPerLoop.afterUptraining)} after uptraining.`;
}

/** The MoR routers' training, as a Setup item (none before routers joined the experiment). @param {PayoffResults} r */
export function routerSetup(r) {
  if (r.routers.length === 0) return '- **MoR routers**: none in this run.';
  const each = r.routers.map(
    (x) =>
      `${x.kind}-choice (${int(x.tokens)} tokens, ${x.steps} steps of ${r.setup.batch} × ${r.setup.seqLen}${x.reused ? ', reused from an earlier run of the same settings' : ''}; KV \`${x.kvMode}\`${x.thresholds ? `; decode thresholds σ > ${x.thresholds.map((t) => fmt(t, 3)).join(', ')} per recursion, calibrated on the calibration windows` : ''})`,
  );
  return `- **MoR routers** (Bae et al. 2025, "Mixture-of-Recursions", arXiv 2507.10524): ${each.join('; ')}. Each is a fresh router on the
  uptrained model, trained with its LoRA (the shared block frozen) under MoR's routed objective by Recur's own trainer (the
  routers exist only in Recur), distilled from the original (0.5 · T² KL at T = 2 + 0.5 · CE, cosine from 2e-3). Served by CDB with every position, prompt and generated, routed as trained; scored the same way (router rule
  \`router\`, every token of a window routed, its first included) in the KV mode it was trained with.`;
}
