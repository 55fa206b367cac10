// Helpers of experiment:mor — the FLOP count that sets each model's token budget, and the report.

/**
 * The docs/results/mor.json that mor.mjs writes and renderReport reads.
 * @typedef {{ floatsPerToken: number, blockRowsPerToken: number }} KvUse
 * @typedef {{ name: string, spec: { layers: number, recursive?: { loops: number, strategy: string }, router?: 'expert' | 'token', balance?: 'loss' | 'loss-free' }, steps: number, tokens: number, trainFlops: number, forwardPerToken: number, expectedLoops: number, seconds: number, parameters: number, nll: number, averageDepth: number, causalNll?: number, causalDepth?: number, halfNll?: number, halfDepth?: number, thresholds?: readonly number[], balanceBias?: number[], kv: Record<'recursion-wise' | 'shared', KvUse> }} Row
 * @typedef {Row & { causalNll: number, causalDepth: number, spec: { recursive: { loops: number } } }} RouterRow a MoR row: routed, so it has causal numbers
 * @typedef {{ threshold: number, perplexity: number, averageDepth: number }} CurvePoint
 * @typedef {{ depth: number, perplexity: number }} FixedDepth
 * @typedef {{ perLoop: readonly FixedDepth[], curve: CurvePoint[], teacherPpl: number, steps: number, tokens: number, windows: number, blockLayers?: number, executedLayers?: number }} ExitResults
 * @typedef {{ rows: Row[], exit: ExitResults, date: string, machine: string, threads: number, batch: number, seqLen: number, lr: number, vanillaSteps: number, exitSteps: number, heldTokens: number, windows: number, minutes: number, commit?: string, seeds?: { init: number, data: number }, loadAverage?: { before: number[], after: number[] } }} Results
 */

/**
 * Forward FLOPs (2 per multiply-add) of one sequence of T tokens, per token: projections of every
 * executed layer on the tokens that run it, causal attention among them (recursion-wise caching: loop
 * r attends over the k_r tokens it kept), the routers and the LM head. `shape`: null (vanilla) or
 * { loops, strategy, router? }; a router keeps k_r = ⌊(N − r)/N · T⌋ tokens at loop r (expert-choice's
 * capacity; token-choice's expected load when balanced).
 */
/**
 * @param {{
 *   hidden_size: number,
 *   intermediate_size: number,
 *   num_attention_heads: number,
 *   num_key_value_heads: number,
 *   head_dim: number,
 *   vocab_size: number,
 *   num_hidden_layers: number,
 * }} config
 * @param {{ loops: number, strategy: string, router?: 'expert' | 'token' } | null} shape
 * @param {number} T
 */
export function morFlops(config, shape, T) {
  const {
    hidden_size: d,
    intermediate_size: ff,
    num_attention_heads: h,
    num_key_value_heads: kvh,
    head_dim: hd,
    vocab_size: v,
    num_hidden_layers: layers,
  } = config;
  const proj = d * h * hd * 2 + d * kvh * hd * 2 + 3 * d * ff; // MACs per token per layer
  // MACs of one layer over k causal tokens
  const layer = (/** @type {number} */ k) => proj * k + 2 * h * hd * ((k * (k + 1)) / 2);
  if (!shape) return { perToken: (2 * (layers * layer(T) + v * d * T)) / T, expectedLoops: 1 };
  const n = shape.loops;
  const outside = shape.strategy === 'middle-cycle' ? 2 : 0;
  const block = (layers - outside) / n;
  const kept = Array.from({ length: n }, (_, r) =>
    shape.router ? Math.max(1, Math.floor(((n - r) / n) * T + 1e-9)) : T,
  );
  const routers =
    shape.router === 'token'
      ? T * d * n
      : shape.router === 'expert'
        ? kept.reduce((sum, _, r) => sum + (r === 0 ? T : /** @type {number} */ (kept[r - 1])) * d, 0)
        : 0;
  const macs = outside * layer(T) + kept.reduce((sum, k) => sum + block * layer(k), 0) + routers + v * d * T;
  return { perToken: (2 * macs) / T, expectedLoops: kept.reduce((a, b) => a + b, 0) / T };
}

const fmt = (/** @type {number} */ n) => n.toLocaleString('en-US');
const sci = (/** @type {number} */ x) => x.toExponential(2).replace('e+', 'e');

/** @param {Results} r */
export function renderReport(r) {
  const vanilla = /** @type {Row} */ (r.rows[0]);
  /** @param {Row} row @param {'recursion-wise' | 'shared'} mode */
  const kvRatio = (row, mode) => (row.kv[mode].floatsPerToken / vanilla.kv['recursion-wise'].floatsPerToken).toFixed(2);
  const table = r.rows
    .map(
      (row) =>
        `| ${row.name} | ${fmt(row.parameters)} | ${row.expectedLoops.toFixed(2)} | ${row.steps} | ${fmt(row.tokens)} | ${sci(row.trainFlops)} | ${row.averageDepth.toFixed(2)} | **${row.nll.toFixed(4)}** | ${row.causalNll === undefined ? '—' : `${row.causalNll.toFixed(4)} @ ${/** @type {number} */ (row.causalDepth).toFixed(2)}`} | ${row.kv['recursion-wise'].floatsPerToken.toFixed(0)} (${kvRatio(row, 'recursion-wise')}) | ${row.kv.shared.floatsPerToken.toFixed(0)} (${kvRatio(row, 'shared')}) | ${row.seconds.toFixed(0)} |`,
    )
    .join('\n');
  const curve = r.exit.curve
    .map((c) => `| maxprob:${c.threshold} | ${c.averageDepth.toFixed(3)} | ${c.perplexity.toFixed(3)} |`)
    .join('\n');
  const fixed = r.exit.perLoop
    .map((p) => `| fixed:${p.depth} | ${p.depth.toFixed(3)} | ${p.perplexity.toFixed(3)} |`)
    .join('\n');
  return `# Mixture-of-Recursions at small scale

Produced by \`pnpm experiment:mor\` (${r.date}, commit ${r.commit ?? '?'}, ${r.machine}, wasm × ${r.threads} thread(s), ${r.minutes.toFixed(1)} min in all${r.loadAverage ? `; load average ${r.loadAverage.before.join(' / ')} before, ${r.loadAverage.after.join(' / ')} after (other work shared the machine: only the "train s" column depends on it)` : ''}).
Raw numbers: \`docs/results/mor.json\` (re-render this page with \`node tooling/experiments/morReport.mjs\`). Seeds: init ${r.seeds?.init ?? 1}, data ${r.seeds?.data ?? 0}.
Mixture-of-Recursions: Bae et al. 2025, arXiv 2507.10524. Per-token depth machinery: \`@recur/router\` (\`depthForward\`),
training: \`morObjective\` in \`@recur/engine\` (the same code \`recur train --router expert|token\` runs).

## Equal training FLOPs, from scratch

Every model: d = 64, 8 heads × 8 (4 KV heads), MLP 172, vocabulary 512 (the stories260K tokenizer), tied embeddings, random init
(std 0.02, seed 1), AdamW (peak lr ${r.lr}, cosine to 10%, ≤ 20 warmup steps, weight decay 0.01, clip 1), batch ${r.batch} × ${r.seqLen} tokens,
the first 90% of the TinyStories validation slice's documents. The vanilla model (6 layers) trains ${r.vanillaSteps} steps; every other
model gets the number of steps whose **training FLOPs (3 × forward FLOPs/token × tokens)** match the vanilla run's (rounded to whole
steps). Forward FLOPs count every executed projection on the tokens that run it, causal attention among them (recursion-wise:
loop r attends over the tokens it kept), the routers and the LM head (\`morFlops\` in tooling/experiments/morReport.mjs); a MoR model
runs loop r on ⌊(N_r − r)/N_r · T⌋ tokens (expert-choice capacity; token-choice at balanced load), so its expected loops per token are
Σ_r (N_r − r)/N_r. Recursive models are made by tying fresh layers (\`recur train --from-scratch --loops N --strategy …\`): cycle ties
6 layers into a 2-layer block × 3; middle-cycle keeps the first and last layer unique around a 2-layer block × N (6 source layers for
N = 2, 8 for N = 3, so the N_r = 3 MoR model's full depth is 8 layers but its expected depth is 1 + 2·2 + 1 = 6 layers).
MoR: linear routers, middle-cycle, recursion-wise KV while training; expert-choice: one router per recursion, top-k at capacity
(N_r − r)/N_r with hierarchical filtering, gate α·σ(logit) with α = 0.1, "was selected" BCE (coef 1e-3), no capacity warm-up;
token-choice: one d → N_r router on the state entering recursion 0, top-1 depth, gate = its probability applied once as in the
public MoR code (h₀ + g·f^r(h₀): the recursions run ungated), balanced by the auxiliary loss N_r·Σ P_i f_i (coef 0.1) or, in the
"loss-free" rows, by a bias on the router probabilities updated after every step by u·sign(mean load − load_i) (u = 1e-3, never by
gradients); no full-depth warm-up. Expert-choice models get per-recursion σ thresholds after training, calibrated on held-out
windows other than the scored ones so the causal keep fraction matches the trained capacity (\`withRouterThreshold\`, what
\`recur train --router-threshold calibrated\`, the default, runs on its own held-out split).

Held-out: the last 10% of documents (never trained on), ${r.windows} windows of ${r.seqLen + 1} tokens (${fmt(r.heldTokens)} predicted tokens),
each scored on its own. **NLL (training routing)**: the routing the model trained with (expert-choice top-k over the window — not causal,
as MoR evaluates); **causal**: decode-time routing, each token alone, every token routed (\`evaluateDepths\` with the \`router\` rule: expert-choice
continues while σ(logit) exceeds its recursion's calibrated threshold; token-choice is causal as trained), with its mean depth; for
expert-choice the σ > 0.5 rule is given in the reading below. Average depth: loops per token.
KV: floats held by the \`DepthKvCache\` per token after a forward over 4 held-out windows (all layers' K and V), in brackets relative to the
vanilla model; recursion-wise = each loop caches only the tokens that ran it; shared = loops ≥ 1 reuse loop 0's keys/values.

| model | unique params | expected loops | steps | training tokens | training FLOPs | avg depth | held-out NLL (training routing) | causal NLL @ depth | KV floats/token, recursion-wise | KV floats/token, shared | train s |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${table}

${reading(r.rows)}

## Early exit on a converted stories260K

stories260K (5 layers) converted to middle-cycle × 2 (${r.exit.blockLayers ?? '?'}-layer block, ${r.exit.executedLayers ?? '?'} executed layers at full depth; \`--depth-fit floor\`; lower init, per-loop norms, depth-wise LoRA rank 8 by SVD), uptrained ${r.exit.steps}
steps × 4 × ${r.seqLen} tokens (${fmt(r.exit.tokens)} tokens) with distillation from the original (α 0.5, T = 2) at **both** exits (equal
weights, \`earlyExitObjective\`), then scored on ${r.exit.windows} held-out windows: every token exiting at a fixed depth, and under maxProb
early exit (a token leaves after loop 1 when its readout's top probability ≥ p; KV mode copy). The original model: perplexity
${r.exit.teacherPpl.toFixed(3)} on the same windows.

| rule | average depth | perplexity |
| --- | ---: | ---: |
${fixed}
${curve}

${exitReading(r.exit)}
`;
}

/** @param {Row[]} rows */
function reading(rows) {
  const by = (/** @type {string} */ name) => rows.find((x) => x.name === name);
  const v = /** @type {Row} */ (by('vanilla'));
  const mor = /** @type {RouterRow[]} */ (rows.filter((x) => x.name.startsWith('MoR')));
  const rec = rows.filter((x) => x.name.startsWith('recursive'));
  const best = rows.reduce((a, b) => (a.nll < b.nll ? a : b));
  const lines = [
    `Reading: the lowest held-out NLL at equal training FLOPs is **${best.name}** (${best.nll.toFixed(4)}; vanilla ${v.nll.toFixed(4)}).`,
  ];
  const beatV = mor.filter((m) => m.nll < v.nll).map((m) => m.name);
  const beatR = mor.filter((m) => rec.every((x) => m.nll < x.nll)).map((m) => m.name);
  lines.push(
    `The paper claims MoR beats both vanilla and recursive baselines at equal training FLOPs with fewer unique parameters. Here ${beatV.length ? `${beatV.join(', ')} beat${beatV.length === 1 ? 's' : ''} vanilla` : '**no MoR model beats vanilla**'} and ${beatR.length ? `${beatR.join(', ')} beat${beatR.length === 1 ? 's' : ''} every recursive baseline` : '**no MoR model beats every recursive baseline**'}.`,
  );
  const e = mor.filter((m) => m.spec.router === 'expert');
  const t = mor.filter((m) => m.spec.router === 'token');
  const eBetter = e.filter((m) => {
    const tm = t.find((x) => x.spec.recursive.loops === m.spec.recursive.loops);
    return tm && m.nll < tm.nll;
  }).length;
  lines.push(
    `The paper finds expert-choice ahead of token-choice: here expert-choice is ahead at ${eBetter} of ${e.length} N_r.`,
  );
  const causalGap = e
    .map(
      (m) =>
        `${m.name}: ${m.nll.toFixed(3)} top-k at depth ${m.averageDepth.toFixed(2)}; calibrated ${m.causalNll.toFixed(3)} at depth ${m.causalDepth.toFixed(2)}${m.halfNll === undefined ? '' : `; σ > 0.5 ${m.halfNll.toFixed(3)} at depth ${/** @type {number} */ (m.halfDepth).toFixed(2)}`}`,
    )
    .join('; ');
  const off = e.filter((m) => Math.abs(m.causalDepth - m.averageDepth) > 0.05);
  lines.push(
    `Expert-choice's top-k sees the whole window; at decode a causal threshold replaces it (${causalGap}). ${off.length ? `The calibrated depth misses the trained one by more than 0.05 loops for ${off.map((m) => m.name).join(', ')}.` : 'Calibrated thresholds bring the causal depth to the trained capacity (within 0.05 loops), where the fixed σ > 0.5 rule need not: it keeps whoever the BCE has pushed above 0.5, which in a short run is not the trained capacity.'}`,
  );
  lines.push(
    `Token-choice depths after training: ${t.map((m) => `${m.name} ${m.averageDepth.toFixed(2)}`).join(', ')} (balanced would be ${t.map((m) => ((m.spec.recursive.loops + 1) / 2).toFixed(1)).join(', ')}; its FLOP budget assumed balance).`,
  );
  const pairs = t
    .filter((m) => m.spec.balance === 'loss-free')
    .map((free) => ({
      free,
      loss: t.find((m) => m.spec.balance !== 'loss-free' && m.spec.recursive.loops === free.spec.recursive.loops),
    }));
  const described = pairs.flatMap(({ free, loss }) =>
    loss
      ? [
          `N_r = ${free.spec.recursive.loops}: NLL ${free.nll.toFixed(4)} vs ${loss.nll.toFixed(4)}, depth ${free.averageDepth.toFixed(2)} vs ${loss.averageDepth.toFixed(2)}`,
        ]
      : [],
  );
  if (described.length) {
    const balancedDepth = (/** @type {RouterRow} */ m) => (m.spec.recursive.loops + 1) / 2;
    const collapsed = pairs
      .filter(({ free }) => Math.abs(free.averageDepth - balancedDepth(free)) > 0.15)
      .map(
        ({ free }) =>
          `${free.name} (depth ${free.averageDepth.toFixed(2)} against ${balancedDepth(free).toFixed(1)} balanced)`,
      );
    const biases = pairs
      .map(
        ({ free }) =>
          `N_r = ${free.spec.recursive.loops}: [${(free.balanceBias ?? []).map((b) => b.toFixed(3)).join(', ')}] after ${free.steps} steps`,
      )
      .join('; ');
    lines.push(
      `Loss-free balancing against the balancing loss: ${described.join('; ')}. The final biases (${biases}) move at most u·steps = ${(1e-3 * Math.max(...pairs.map(({ free }) => free.steps))).toFixed(3)} in probability, ${collapsed.length ? `which is small against the softmax gaps a from-scratch router opens: ${collapsed.join(', ')} ended away from balance, the gate's own gradient (it multiplies the chosen depth's output) moving the choice faster than the bias can answer at u = 1e-3 over a few dozen steps; the paper's runs are thousands of steps long.` : 'and that was enough to keep the loads within 0.15 loops of balance here.'}`,
    );
  }
  const vkv = v.kv['recursion-wise'].floatsPerToken;
  const kvLine = mor.map((m) => `${m.name} ${(m.kv['recursion-wise'].floatsPerToken / vkv).toFixed(2)}×`).join(', ');
  const smallest = rows.reduce((a, b) => (a.kv.shared.floatsPerToken < b.kv.shared.floatsPerToken ? a : b));
  lines.push(
    `KV memory (recursion-wise, relative to vanilla): ${kvLine}. Recursion-wise caching stores only the tokens each loop ran, so it saves memory only where the expected depth is below the full depth of a model with as many executed layers as vanilla: the N_r = 3 models run 8 layers at full depth, so at ~2 loops per token they hold about what vanilla holds (more when token-choice routes deeper than balanced). Recursive KV sharing stores loop 0 only (smallest: ${smallest.name}, ${(smallest.kv.shared.floatsPerToken / vkv).toFixed(2)}×).`,
  );
  lines.push(
    "Scale caveat: these are 0.1–0.3M-parameter models trained for a few minutes each on a shared 2-core machine (~40–50k tokens each, one seed, deep in the steep early part of the loss curve, where a model given 20% more tokens — MoR N_r = 2 — gains a lot; a recursive model trained on the token count of MoR N_r = 2 would separate the effect of routing from the extra tokens and was not run), against the paper's 135M–1.7B models and billions of tokens; small-budget differences of a few hundredths of a nat are within what a different seed moves, and the ranking here is not a verdict on the paper's claims.",
  );
  return lines.join(' ');
}

/** Whether mixing depths (some tokens at loop 1, some at loop 2) costs more than either pure depth. */
/** @param {ExitResults} exit */
function mixedReading(exit) {
  const worst = Math.max(...exit.perLoop.map((p) => p.perplexity));
  const above = exit.curve.filter((c) => c.perplexity > worst);
  if (above.length === 0) return 'Mixed depths land between the two fixed depths.';
  const first = /** @type {CurvePoint} */ (above[0]);
  return (
    `Mixing depths costs more than either pure depth at ${above.length} of ${exit.curve.length} thresholds (e.g. maxprob:${first.threshold}: ${first.perplexity.toFixed(2)} at depth ${first.averageDepth.toFixed(2)}): ` +
    'deeper tokens attend to the copied loop-1 keys/values of tokens that left (KV mode copy), states the second loop never saw in training — the uptraining scored each exit with every token at the same depth.'
  );
}

/** @param {ExitResults} exit */
function exitReading(exit) {
  const [d1, d2] = /** @type {[FixedDepth, FixedDepth]} */ (exit.perLoop); // a 2-loop model
  if (d1.perplexity < d2.perplexity) {
    return (
      `Reading: here **the shallow exit is better than full depth** (${d1.perplexity.toFixed(2)} after loop 1 vs ${d2.perplexity.toFixed(2)} after loop 2; the original 5-layer model: ${exit.teacherPpl.toFixed(2)}), so the curve runs the wrong way: lower thresholds (more tokens leaving after loop 1) give lower perplexity. ` +
      `Loop 1 of the converted model (first layer, the ${exit.blockLayers ?? '?'}-layer block initialised from the lower layers, last layer) is close to the original network with its upper layers dropped, while loop 2 re-runs the block on states it was never trained on; ` +
      `${exit.steps} steps of uptraining (${exit.tokens.toLocaleString('en-US')} tokens) do not repair it. ${mixedReading(exit)} The papers' premise — deeper is better and early exit trades a little quality for compute — needs the uptraining budget they use (billions of tokens), not this one.`
    );
  }
  const cheap = exit.curve.filter((c) => c.perplexity <= d2.perplexity * 1.05);
  const low = cheap.reduce(
    (a, b) => (a && a.averageDepth < b.averageDepth ? a : b),
    /** @type {CurvePoint | undefined} */ (undefined),
  );
  return (
    `Reading: exiting every token after loop 1 costs ${d1.perplexity.toFixed(2)} vs ${d2.perplexity.toFixed(2)} at full depth. ` +
    (low
      ? `maxProb early exit stays within 5% of full-depth perplexity down to an average depth of ${low.averageDepth.toFixed(2)} (maxprob:${low.threshold}); `
      : 'No threshold stays within 5% of full-depth perplexity; ') +
    `lower thresholds trade more perplexity for less depth. With 2 loops the saving is at most one block (${exit.blockLayers ?? '?'} of ${exit.executedLayers ?? '?'} executed layers) per exiting token.`
  );
}

// Run directly: re-render docs/results/mor.md from the committed docs/results/mor.json.
if (import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1] ?? '').href) {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const root = new URL('../../', import.meta.url);
  writeFileSync(
    new URL('docs/results/mor.md', root),
    renderReport(JSON.parse(readFileSync(new URL('docs/results/mor.json', root), 'utf8'))),
  );
}
