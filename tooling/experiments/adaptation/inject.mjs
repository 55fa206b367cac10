// Section `inject` of pnpm experiment:adaptation (issue 19 §2, "inject light"): the default model's architecture
// trained on TinyStories at a short and a long budget (an under- and a well-trained source, after "Attention
// Saturation and Gradient Suppression at Inflection Layers", Wang 2025, arXiv 2511.00797), then adapted to
// Shakespeare for the same steps four ways — LoRA on the diagnosed inflection layers (`--lora-layers auto`; when the
// strict rule flags none, also the ranked fallback `--lora-layers auto:K` with K the top row's layer count), LoRA on
// every layer, LoRA on the top layers (as many as auto chose), full fine-tuning — with target and source held-out
// perplexity, trainable parameters and `recur diagnose` before and after each. Rendered by injectReport.mjs.
import { readFileSync } from 'node:fs';
import { HELD_OUT_FRACTION, recurOnce, splitCorpora, train } from './injectRuns.mjs';

export { renderInject as render } from './injectReport.mjs';

export const name = 'inject';
export const title = 'Inject light: LoRA on the diagnosed inflection layers vs all, top and full fine-tuning';

/** Budgets (full run / smoke). The long source is the committed default model when `longSteps` is null. */
const BUDGETS = {
  full: {
    shortSteps: 60,
    longSteps: null,
    adaptSteps: 30,
    batch: 8,
    seq: 128,
    loraRank: 8,
    evalBytes: 20_000,
    diagnoseBytes: 2_500,
  },
  smoke: {
    shortSteps: 2,
    longSteps: null,
    adaptSteps: 2,
    batch: 2,
    seq: 32,
    loraRank: 2,
    evalBytes: 1_500,
    diagnoseBytes: 500,
  },
};
/** The default model's recipe (tooling/default-model/train.mjs) for the sources; adaptation lrs per method. */
const SOURCE_RECIPE = { lr: 3e-3, schedule: 'cosine', weightDecay: 0.01, clip: 1 };
const ADAPT_LR = { lora: 1e-2, full: 1e-3 };
const WINDOW = 128;

/**
 * @typedef {{ root: string, cacheDir: string, seed: number, smoke: boolean, log: (msg: string) => void,
 *   recur: (args: readonly string[]) => unknown }} Ctx
 * @typedef {{ tokens: number, trainedParameters: number, modelDir: string, adapterDir?: string,
 *   tokensPerCpuSecond: number }} TrainSummary
 * @typedef {{ perplexity: number, tokens: number }} EvalJson
 * @typedef {{ layers: LayerEntry[], inflectionLayers: number[], rule: string }} DiagnoseJson
 * @typedef {{ attentionEntropy: number, activationGradNorm: number, paramGradNorm: number }} Values
 * @typedef {Values & { layer: number, deltaCka?: number, target?: Values }} LayerEntry
 * @typedef {{ layers: LayerEntry[], inflectionLayers: number[], rule: string }} Diagnosis
 * @typedef {{ perplexity: number, tokens: number }} Score
 * @typedef {{ method: string, layers: number[] | 'all' | null, trainableParameters: number | null,
 *   target: Score | null, source: Score | null, diagnosis: Diagnosis | null, tokensPerCpuSecond: number | null,
 *   skipped?: string }} Row
 */

/** Both sources (the smoke run: the short one only), adapted and measured. @param {Ctx} ctx */
export async function run(ctx) {
  const budget = ctx.smoke ? BUDGETS.smoke : BUDGETS.full;
  const labels = ctx.smoke ? ['short'] : ['short', 'long'];
  const sources = [];
  for (const label of labels) sources.push(await runSource(ctx, label));
  return {
    budget: { ...budget, longSource: budget.longSteps === null ? 'models/default (700 steps)' : 'trained here' },
    recipe: { source: SOURCE_RECIPE, adaptLr: ADAPT_LR, window: WINDOW, heldOutFraction: HELD_OUT_FRACTION },
    data: splitCorpora(ctx).stats,
    numLayers: numLayersOf(ctx),
    sources,
  };
}

/**
 * One source ('short' or 'long'): made, measured, adapted four ways. Exported so the two sources' runs can
 * fill the cache in parallel processes before `run` reads them back.
 * @param {Ctx} ctx @param {string} label
 */
export async function runSource(ctx, label) {
  const budget = ctx.smoke ? BUDGETS.smoke : BUDGETS.full;
  const data = splitCorpora(ctx);
  const source = sourceModel(ctx, data, budget, label, label === 'short' ? budget.shortSteps : budget.longSteps);
  ctx.log(`source ${label}: ${source.model}`);
  const before = measure(ctx, data, budget, source.model);
  const rows = adaptations(ctx, data, budget, source.model, numLayersOf(ctx));
  return { ...source, label, before, rows };
}

/** @param {Ctx} ctx @returns {number} */
function numLayersOf(ctx) {
  return JSON.parse(readFileSync(`${ctx.root}tooling/default-model/config.json`, 'utf8')).num_hidden_layers;
}

/**
 * A TinyStories source: trained from scratch here for `steps` (default recipe, the default model's tokenizer), or
 * the committed default model when `steps` is null. Cached in cacheDir/source-LABEL.
 * @param {Ctx} ctx @param {ReturnType<typeof splitCorpora>} data @param {typeof BUDGETS.full} budget
 * @param {string} label @param {number | null} steps
 */
function sourceModel(ctx, data, budget, label, steps) {
  if (steps === null) return { model: `${ctx.root}models/default`, steps: 700, trained: 'pnpm train:default' };
  const summary = train(ctx, `source-${label}`, [
    ...['--from-scratch', '--config', `${ctx.root}tooling/default-model/config.json`],
    ...['--tokenizer', `${ctx.root}models/default/tokenizer.json`, '--data', data.files.stories.train],
    ...['--steps', String(steps), '--warmup', String(Math.max(1, Math.floor(steps / 10)))],
    ...['--lr', String(SOURCE_RECIPE.lr), '--schedule', SOURCE_RECIPE.schedule],
    ...['--weight-decay', String(SOURCE_RECIPE.weightDecay), '--clip', String(SOURCE_RECIPE.clip)],
    ...['--batch', String(budget.batch), '--seq', String(budget.seq)],
  ]);
  return { model: summary.modelDir, steps, trained: 'here', tokensPerCpuSecond: summary.tokensPerCpuSecond };
}

/**
 * Target and source held-out perplexity and the diagnosis (source: TinyStories held-out, target: Shakespeare).
 * @param {Ctx} ctx @param {ReturnType<typeof splitCorpora>} data @param {typeof BUDGETS.full} budget
 * @param {string} model @param {string[]} [adapter]
 */
function measure(ctx, data, budget, model, adapter = []) {
  const score = (/** @type {string} */ file) => {
    const args = ['eval', '--model', model, ...adapter, '--data', file, ...evalFlags(budget)];
    const r = /** @type {EvalJson} */ (recurOnce(ctx, args));
    return { perplexity: r.perplexity, tokens: r.tokens };
  };
  const files = data.files;
  const d = /** @type {DiagnoseJson} */ (
    recurOnce(ctx, [
      ...['diagnose', '--model', model, ...adapter, '--data', files.stories.heldOut],
      ...['--target-data', files.shakespeare.heldOut, '--max-bytes', String(budget.diagnoseBytes)],
      ...['--window', String(Math.min(WINDOW, budget.seq))],
    ])
  );
  /** @type {Diagnosis} */
  const diagnosis = {
    layers: d.layers.map((/** @type {LayerEntry} */ l) => ({
      layer: l.layer,
      attentionEntropy: l.attentionEntropy,
      activationGradNorm: l.activationGradNorm,
      paramGradNorm: l.paramGradNorm,
      ...(l.deltaCka !== undefined && { deltaCka: l.deltaCka }),
      ...(l.target && { target: l.target }),
    })),
    inflectionLayers: d.inflectionLayers,
    rule: d.rule,
  };
  return { target: score(files.shakespeare.heldOut), source: score(files.stories.heldOut), diagnosis };
}

/** @param {typeof BUDGETS.full} budget */
function evalFlags(budget) {
  return ['--max-bytes', String(budget.evalBytes), '--window', String(Math.min(WINDOW, budget.seq))];
}

/**
 * The four adaptations of one source, same steps and data. auto first: the top-k row copies its layer count
 * (k = 1 when the rule flags none, and the auto row then records why it did not train). When the strict rule
 * flags none, a fifth row `ranked-k` trains on the k steps `--lora-layers auto:k` ranks closest to inflection (the
 * ranked fallback: same parameter count as top-k).
 * @param {Ctx} ctx @param {ReturnType<typeof splitCorpora>} data @param {typeof BUDGETS.full} budget
 * @param {string} model @param {number} numLayers @returns {Row[]}
 */
function adaptations(ctx, data, budget, model, numLayers) {
  const all = Array.from({ length: numLayers }, (_, i) => i);
  const auto = adapt(ctx, data, budget, model, 'inflection', 'auto');
  const k = Array.isArray(auto.layers) && auto.layers.length > 0 ? auto.layers.length : 1;
  const ranked = auto.skipped ? [adapt(ctx, data, budget, model, `ranked-${k}`, `auto:${k}`)] : [];
  return [
    auto,
    ...ranked,
    adapt(ctx, data, budget, model, 'all', all.join(',')),
    adapt(ctx, data, budget, model, `top-${k}`, all.slice(-k).join(',')),
    adapt(ctx, data, budget, model, 'full', null),
  ];
}

/**
 * One adaptation to Shakespeare (LoRA at `layers`, or full fine-tuning when null) and its measurements.
 * @param {Ctx} ctx @param {ReturnType<typeof splitCorpora>} data @param {typeof BUDGETS.full} budget
 * @param {string} model @param {string} method @param {string | null} layers @returns {Row}
 */
function adapt(ctx, data, budget, model, method, layers) {
  const lora = layers !== null;
  const args = [
    ...['--model', model, '--data', data.files.shakespeare.train],
    ...['--steps', String(budget.adaptSteps), '--warmup', String(Math.max(1, Math.floor(budget.adaptSteps / 10)))],
    ...[
      '--lr',
      String(lora ? ADAPT_LR.lora : ADAPT_LR.full),
      '--batch',
      String(budget.batch),
      '--seq',
      String(budget.seq),
    ],
    ...(lora
      ? ['--trainable', 'lora', '--lora-rank', String(budget.loraRank), '--lora-layers', layers]
      : ['--trainable', 'all']),
  ];
  let summary;
  try {
    summary = train(ctx, `adapt-${method}`, args);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (layers !== 'auto' || !message.includes('no inflection layer')) throw error;
    ctx.log(`${method}: the rule flags no inflection layer; not trained`);
    const skipped = message.slice(message.indexOf('no inflection layer')).split('\n')[0] ?? message;
    return {
      method,
      layers: [],
      trainableParameters: 0,
      target: null,
      source: null,
      diagnosis: null,
      tokensPerCpuSecond: null,
      skipped,
    };
  }
  const adapterDir = summary.adapterDir ?? '';
  if (lora && !adapterDir) throw new Error(`inject: recur train --lora-rank wrote no adapter for ${method}`);
  const adapter = lora ? ['--adapter', adapterDir] : [];
  const measured = measure(ctx, data, budget, lora ? model : summary.modelDir, adapter);
  ctx.log(
    `${method}: target ppl ${measured.target.perplexity.toFixed(2)}, source ppl ${measured.source.perplexity.toFixed(2)}`,
  );
  return {
    method,
    layers: lora ? adapterLayers(adapterDir, layers) : 'all',
    trainableParameters: summary.trainedParameters,
    ...measured,
    tokensPerCpuSecond: summary.tokensPerCpuSecond,
  };
}

/** The stored layers the written adapter covers (what auto chose), from its rank_pattern. @param {string} dir @param {string} asked */
function adapterLayers(dir, asked) {
  const config = JSON.parse(readFileSync(`${dir}/adapter_config.json`, 'utf8'));
  const layers = Object.keys(config.rank_pattern).map((path) => Number(/layers\.(\d+)\./.exec(path)?.[1]));
  const chosen = [...new Set(layers)].sort((a, b) => a - b);
  if (chosen.length === 0) throw new Error(`inject: the adapter for --lora-layers ${asked} in ${dir} holds no factor`);
  return chosen;
}
