// Renders the `inject` section (inject.mjs) from its result: the adaptation table per source, the diagnostics
// before and after, and readings computed from the numbers (no sentence here asserts a number of its own).

/**
 * @typedef {{ perplexity: number, tokens: number }} Score
 * @typedef {{ attentionEntropy: number, activationGradNorm: number, paramGradNorm: number }} Values
 * @typedef {Values & { layer: number, deltaCka?: number, target?: Values }} LayerEntry
 * @typedef {{ layers: LayerEntry[], inflectionLayers: number[], rule: string }} Diagnosis
 * @typedef {{ method: string, layers: number[] | 'all', trainableParameters: number, target: Score | null,
 *   source: Score | null, diagnosis: Diagnosis | null, tokensPerCpuSecond: number | null, skipped?: string }} Row
 * @typedef {{ label: string, model: string, steps: number, trained: string, tokensPerCpuSecond?: number,
 *   before: { target: Score, source: Score, diagnosis: Diagnosis }, rows: Row[] }} Source
 * @typedef {{ budget: Record<string, number | string | null>, recipe: { source: Record<string, number | string>,
 *   adaptLr: { lora: number, full: number }, window: number, heldOutFraction: number },
 *   data: Record<string, { file: string, documents: number, heldOutDocuments: number }>, numLayers: number,
 *   sources: Source[] }} InjectResult
 */

const f2 = (/** @type {number} */ x) => x.toFixed(2);
const f3 = (/** @type {number} */ x) => x.toFixed(3);
const count = (/** @type {number} */ n) => n.toLocaleString('en-US');

/** @param {InjectResult} result */
export function renderInject(result) {
  const b = result.budget;
  const tokens = (/** @type {number} */ steps) => count(steps * Number(b.batch) * Number(b.seq));
  const intro = `The default model's architecture (tooling/default-model/config.json, ${result.numLayers} layers) on TinyStories
(${describeData(result)}). Sources: **short** = ${result.sources[0]?.steps} steps from scratch here (${tokens(result.sources[0]?.steps ?? 0)}
tokens, the default recipe: lr ${result.recipe.source.lr}, ${result.recipe.source.schedule}), **long** = ${result.sources[1]?.trained === 'here' ? `${result.sources[1]?.steps} steps trained here` : `the committed default model (\`pnpm train:default\`, ${result.sources[1]?.steps} steps × 8 × 128 tokens, the same held-out documents)`}.
Each is adapted to Shakespeare for ${b.adaptSteps} steps × ${b.batch} × ${b.seq} tokens (${tokens(Number(b.adaptSteps))} tokens;
lr ${result.recipe.adaptLr.lora} for LoRA rank ${b.loraRank}, ${result.recipe.adaptLr.full} for full fine-tuning; cosine, seeded):
LoRA on the inflection layers \`recur train --lora-layers auto\` finds on the Shakespeare training text, on all layers, on
the top layers (as many as auto chose; the top one when it chose none), and full fine-tuning. When the strict rule flags no
layer, a \`ranked-K\` row is the ranked fallback \`--lora-layers auto:K\` (K = the top row's count, so the trainable
parameters match): the K steps ranked closest to inflection — attention entropy below the median first, then by the
relative gradient drop ‖∂L/∂h_s‖ / ‖∂L/∂h_{s+1}‖ ascending. Perplexity: \`recur eval\` on the first ${count(Number(b.evalBytes))} bytes
of each held-out file, ${result.recipe.window}-token windows; diagnostics: \`recur diagnose\` with TinyStories held-out as
source and Shakespeare held-out as target (first ${count(Number(b.diagnoseBytes))} bytes each). "Forgetting" is source perplexity
after ÷ before.`;
  return [
    `${intro}\n\n${costLine(result)}`,
    ...result.sources.map((s) => sourceSection(s, result.numLayers)),
    readings(result),
  ].join('\n\n');
}

/** CPU-seconds of the training runs, measured when each ran (a rerun that reads them from the cache costs little). @param {InjectResult} result */
function costLine(result) {
  const tokensPerRun = Number(result.budget.adaptSteps) * Number(result.budget.batch) * Number(result.budget.seq);
  const adapt = result.sources
    .flatMap((s) => s.rows)
    .reduce((sum, r) => sum + (r.tokensPerCpuSecond ? tokensPerRun / r.tokensPerCpuSecond : 0), 0);
  const here = result.sources.filter((s) => s.trained === 'here' && s.tokensPerCpuSecond);
  const sourceCpu = here.reduce(
    (sum, s) => sum + (s.steps * Number(result.budget.batch) * Number(result.budget.seq)) / (s.tokensPerCpuSecond ?? 1),
    0,
  );
  return `Training cost: ${(sourceCpu + adapt).toFixed(0)} CPU-s (${sourceCpu.toFixed(0)} for the ${here.map((s) => s.label).join(' and ') || 'no'} source${here.length === 1 ? '' : 's'} trained here, ${adapt.toFixed(0)} for the adaptations; one wasm thread each; evaluations and diagnostics extra); tokens per CPU-second per run in the tables.`;
}

/** @param {InjectResult} result */
function describeData(result) {
  return Object.entries(result.data)
    .map(([k, d]) => `${k}: ${d.file}, last ${d.heldOutDocuments} of ${d.documents} documents held out`)
    .join('; ');
}

/** @param {Source} s @param {number} numLayers */
function sourceSection(s, numLayers) {
  const head = `### ${s.label} source (${s.model.split('/').slice(-2).join('/')})

| method | LoRA layers | trainable params | Shakespeare ppl | TinyStories ppl | forgetting | tokens / CPU-s |
|---|---|---:|---:|---:|---:|---:|
| none (source) | – | 0 | ${f2(s.before.target.perplexity)} | ${f2(s.before.source.perplexity)} | 1.00 | – |`;
  const rows = s.rows.map((r) =>
    r.skipped
      ? `| ${r.method} | none flagged | 0 | not trained | – | – | – |`
      : `| ${r.method} | ${r.layers === 'all' ? 'all weights' : r.layers.join(', ')} | ${count(r.trainableParameters)} | ${f2(r.target?.perplexity ?? NaN)} | ${f2(r.source?.perplexity ?? NaN)} | ${f2(forgetting(s, r))} | ${r.tokensPerCpuSecond ? r.tokensPerCpuSecond.toFixed(0) : '–'} |`,
  );
  return [head, ...rows, '', diagnosticsBefore(s.before.diagnosis), '', diagnosticsAfter(s, numLayers)].join('\n');
}

/** @param {Diagnosis} d */
function diagnosticsBefore(d) {
  const lines = d.layers.map(
    (l) =>
      `| ${l.layer}${d.inflectionLayers.includes(l.layer) ? ' ★' : ''} | ${f3(l.attentionEntropy)} | ${f3(l.target?.attentionEntropy ?? NaN)} | ${f3(l.activationGradNorm)} | ${f3(l.target?.activationGradNorm ?? NaN)} | ${f3(l.paramGradNorm)} | ${f3(l.target?.paramGradNorm ?? NaN)} | ${f3(l.deltaCka ?? NaN)} |`,
  );
  return `Diagnostics of the source before adaptation (★ inflection layer; inflection layers: ${list(d.inflectionLayers)}):

| layer | entropy TS | entropy Sh | ‖∂L/∂h‖ TS | ‖∂L/∂h‖ Sh | ‖∂L/∂θ‖ TS | ‖∂L/∂θ‖ Sh | ΔCKA |
|---|---:|---:|---:|---:|---:|---:|---:|
${lines.join('\n')}`;
}

/** @param {Source} s @param {number} numLayers */
function diagnosticsAfter(s, numLayers) {
  const layers = Array.from({ length: numLayers }, (_, i) => i);
  const rows = [{ method: 'before', diagnosis: s.before.diagnosis }, ...s.rows].filter((r) => r.diagnosis);
  const cells = (/** @type {Diagnosis} */ d, /** @type {(l: LayerEntry) => number} */ pick) =>
    layers.map((i) => f3(pick(/** @type {LayerEntry} */ (d.layers[i])))).join(' / ');
  const lines = rows.map((r) => {
    const d = /** @type {Diagnosis} */ (r.diagnosis);
    return `| ${r.method} | ${list(d.inflectionLayers)} | ${cells(d, (l) => l.deltaCka ?? NaN)} | ${cells(d, (l) => l.target?.attentionEntropy ?? NaN)} | ${cells(d, (l) => l.target?.activationGradNorm ?? NaN)} |`;
  });
  return `Diagnostics after adaptation (per layer ${layers.join(' / ')}; Sh = on the Shakespeare held-out text):

| after | inflection layers | ΔCKA | entropy Sh | ‖∂L/∂h‖ Sh |
|---|---|---|---|---|
${lines.join('\n')}`;
}

/** @param {number[]} layers */
function list(layers) {
  return layers.length ? layers.join(', ') : 'none';
}

/** @param {Source} s @param {Row} r */
function forgetting(s, r) {
  return (r.source?.perplexity ?? NaN) / s.before.source.perplexity;
}

/** @param {InjectResult} result */
function readings(result) {
  const lines = result.sources.flatMap((s) => sourceReadings(s));
  return `### Readings\n\n${lines.map((l) => `- ${l}`).join('\n')}`;
}

/** @param {Source} s */
function sourceReadings(s) {
  const trained = s.rows.filter((r) => !r.skipped && r.target && r.source);
  const auto = s.rows.find((r) => r.method === 'inflection');
  const out = [];
  if (!auto || auto.skipped) {
    const grad = s.before.diagnosis.layers.map((l) => l.target?.activationGradNorm ?? l.activationGradNorm);
    const rising = grad.every((g, i) => i === 0 || g <= (grad[i - 1] ?? g));
    out.push(
      `${s.label} source: \`--lora-layers auto\` flagged no inflection layer under the rule (${s.before.diagnosis.rule}), so the strict inflection-layer comparison could not be made${rising ? '; ‖∂L/∂h‖ on Shakespeare grows monotonically from the top layer down to layer 0 before adaptation — no gradient suppression for the rule to find' : ''}.`,
    );
    const ranked = s.rows.find((r) => r.method.startsWith('ranked-') && !r.skipped);
    const top = s.rows.find((r) => r.method.startsWith('top-') && !r.skipped);
    if (ranked) out.push(compare(s.label, ranked, top, 'the top layers', 'ranked-fallback'));
  } else {
    const top = s.rows.find((r) => r.method.startsWith('top-') && !r.skipped);
    const all = s.rows.find((r) => r.method === 'all' && !r.skipped);
    out.push(compare(s.label, auto, top, 'the top layers'), compare(s.label, auto, all, 'all layers'));
  }
  if (trained.length) {
    const best = minBy(trained, (r) => r.target?.perplexity ?? Infinity);
    const least = minBy(trained, (r) => forgetting(s, r));
    const most = minBy(trained, (r) => -forgetting(s, r));
    out.push(
      `${s.label} source: best Shakespeare perplexity ${f2(best.target?.perplexity ?? NaN)} (from ${f2(s.before.target.perplexity)}) with ${best.method} (${count(best.trainableParameters)} trainable parameters); least forgetting ${least.method} (TinyStories ${f2(s.before.source.perplexity)} → ${f2(least.source?.perplexity ?? NaN)}, ×${f2(forgetting(s, least))}), most ${most.method} (×${f2(forgetting(s, most))}).`,
    );
  }
  return out.filter(Boolean);
}

/** @param {string} label @param {Row} auto @param {Row | undefined} other @param {string} what @param {string} [kind] */
function compare(label, auto, other, what, kind = 'inflection-layer') {
  if (!other?.target || !auto.target) return '';
  const ratio = auto.target.perplexity / other.target.perplexity;
  const params = auto.trainableParameters <= other.trainableParameters ? 'equal or fewer' : 'more';
  const verdict = ratio < 1 ? 'beats' : 'does not beat';
  return `${label} source: ${kind} LoRA (layers ${(/** @type {number[]} */ (auto.layers)).join(', ')}, ${count(auto.trainableParameters)} params) ${verdict} LoRA on ${what} (${other.method}, ${count(other.trainableParameters)} params: ${params} for ${kind === 'inflection-layer' ? 'inflection' : 'ranked'}) on Shakespeare: ${f2(auto.target.perplexity)} vs ${f2(other.target.perplexity)} (×${f3(ratio)}); TinyStories ${f2(auto.source?.perplexity ?? NaN)} vs ${f2(other.source?.perplexity ?? NaN)}.`;
}

/** @template T @param {T[]} items @param {(item: T) => number} key */
function minBy(items, key) {
  return items.reduce((best, item) => (key(item) < key(best) ? item : best));
}
