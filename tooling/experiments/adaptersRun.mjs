// One training run of pnpm experiment:adapters (a domain LoRA, a composition over other domains' LoRAs, DVPT
// or full fine-tuning) on a frozen stories260K, cached under <cache>/runs/KEY (KEY names the whole config): a
// finished run's result.json is reused, so reruns and re-renders cost nothing. Then the trained result is
// loaded as generate/eval load it and scored on every domain's held-out text (target and forgetting).
// Methods: ScaLearn (Frohmann et al. 2023, "ScaLearn: Simple and Highly Parameter-Efficient Task Transfer by
// Learning to Scale", arXiv 2310.01217), gated fusion (AutoLoRA, 2025), DVPT (Ruan et al. 2023, arXiv 2309.06123).
import { renameSync, writeFileSync } from 'node:fs';
import { disposeModel, evaluatePerplexity } from '../../packages/engine/dist/index.js';
import { loadComposition, loadModel, loadParts, trainModel } from '../../packages/engine/dist/node.js';
import { runCache } from './runCache.mjs';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/** @typedef {import('./adaptersData.mjs').Domain} Domain */
/** @typedef {import('./adaptersData.mjs').Split} Split */
/**
 * @typedef {'lora' | 'scalearn' | 'scalearn-uniform' | 'scalearn-uniform-shared' | 'gated' | 'dvpt' | 'full'} Method
 * @typedef {{ method: Method, target: Domain, sources: Domain[], steps: number, batch: number, seq: number, seed: number }} RunConfig
 * @typedef {{ base: string, cache: string, splits: Record<Domain, Split>, window: number, loraDirs: Partial<Record<Domain, string>> }} RunContext
 */

/** Peak learning rate per method (cosine to 10 %, 10 % warmup): scales and gates start from a neutral point and move further. */
export const learningRates = /** @type {Record<Method, number>} */ ({
  lora: 3e-3,
  scalearn: 1e-2,
  'scalearn-uniform': 1e-2,
  'scalearn-uniform-shared': 1e-2,
  gated: 5e-3,
  dvpt: 3e-3,
  full: 1e-3,
});

/** The adapter shapes every run uses (stated in the doc). */
export const shapes = { loraRank: 8, dvpt: { prompts: 8, bottleneck: 16, share: /** @type {const} */ ('layers') } };

/** @param {RunConfig} c */
export function runKey(c) {
  const over = c.sources.length > 0 ? `-over-${c.sources.join('+')}` : '';
  return `${c.method}-${c.target}${over}-s${c.steps}-b${c.batch}x${c.seq}-lr${learningRates[c.method]}-seed${c.seed}`;
}

/**
 * Trains `config` (or reuses its cached result) and scores it on every domain's held-out text.
 * @param {RunConfig} config @param {RunContext} ctx
 */
export async function adapterRun(config, ctx) {
  const { dir, cached } = runCache(ctx.cache, runKey(config));
  if (cached) return cached;
  const base = await loadModel(ctx.base);
  const cpuStart = process.cpuUsage();
  const trained = await (async () => {
    try {
      return await trainModel({ ...(await methodOptions(config, base, ctx)), ...runOptions(config, base, ctx, dir) });
    } finally {
      disposeModel(base);
    }
  })();
  const cpu = process.cpuUsage(cpuStart);
  const model = await loadTrained(config.method, trained, ctx.base);
  const perplexity = await heldOutPerplexities(model, ctx);
  disposeModel(model);
  const result = {
    config,
    key: runKey(config),
    learningRate: learningRates[config.method],
    trainedParameters: trained.trainedParameters,
    steps: trained.steps,
    tokens: trained.tokens,
    seconds: trained.seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    finalTrainLoss: trained.finalTrainLoss,
    folder: trained.adapterDir ?? trained.compositionDir ?? trained.dvptDir ?? trained.modelDir,
    perplexity,
  };
  if (Object.values(perplexity).some((p) => !Number.isFinite(p)))
    throw new Error(`${result.key}: a held-out perplexity is not finite (${JSON.stringify(perplexity)})`);
  writeFileSync(`${dir}/result.json.tmp`, JSON.stringify(result, null, 1));
  renameSync(`${dir}/result.json.tmp`, `${dir}/result.json`);
  return { ...result, cached: false };
}

/** Held-out perplexity of `model` on every domain (windows of ctx.window tokens, each from BOS). @param {LoadedModel} model @param {Pick<RunContext, 'splits' | 'window'>} ctx */
export async function heldOutPerplexities(model, ctx) {
  /** @type {Partial<Record<Domain, number>>} */
  const out = {};
  for (const [domain, split] of Object.entries(ctx.splits))
    out[/** @type {Domain} */ (domain)] = (
      await evaluatePerplexity(model, split.heldOut, { window: ctx.window })
    ).perplexity;
  return /** @type {Record<Domain, number>} */ (out);
}

/**
 * What a method trains, as trainModel options.
 * @param {RunConfig} c @param {LoadedModel} base @param {RunContext} ctx
 * @returns {Promise<Pick<import('../../packages/engine/dist/node.js').TrainRunOptions, 'trainable' | 'adapter' | 'dvpt' | 'composition'>>}
 */
async function methodOptions(c, base, ctx) {
  if (c.method === 'lora') return { trainable: 'lora', adapter: { rank: shapes.loraRank } };
  if (c.method === 'dvpt') return { trainable: 'lora', dvpt: shapes.dvpt };
  if (c.method === 'full') return { trainable: 'all' };
  const dirs = c.sources.map((d) => {
    const dir = ctx.loraDirs[d];
    if (!dir) throw new Error(`${runKey(c)}: no ${d} LoRA to compose (train the domain LoRAs first)`);
    return dir;
  });
  const method = c.method === 'scalearn-uniform-shared' ? 'scalearn-uniform' : c.method;
  /** @type {import('../../packages/lora/dist/index.js').CompositionSpec} */
  const spec = { method, shareLayers: c.method === 'scalearn-uniform-shared' };
  return { trainable: 'lora', composition: { spec, parts: await loadParts(base, dirs) } };
}

/** The shared run settings: cosine schedule, no periodic evals or checkpoints (the experiment scores after). */
function runOptions(
  /** @type {RunConfig} */ c,
  /** @type {LoadedModel} */ base,
  /** @type {RunContext} */ ctx,
  /** @type {string} */ dir,
) {
  const lr = learningRates[c.method];
  return {
    model: base,
    textFile: ctx.splits[c.target].trainFile,
    out: `${dir}/run`,
    steps: c.steps,
    seqLen: c.seq,
    batchSize: c.batch,
    schedule: {
      kind: /** @type {const} */ ('cosine'),
      peakLr: lr,
      warmupSteps: Math.max(1, Math.round(c.steps / 10)),
      totalSteps: c.steps,
      minLrRatio: 0.1,
    },
    valFraction: 0.01,
    evalEvery: 0,
    saveEvery: 0,
    evalWindows: 1,
    finalEvalWindows: 1,
    seed: c.seed,
  };
}

/**
 * The trained result loaded as `generate` loads it: --adapter, --composition, --dvpt or the trained model.
 * @param {Method} method @param {Awaited<ReturnType<typeof trainModel>>} run @param {string} base
 */
export async function loadTrained(method, run, base) {
  if (run.adapterDir) return loadModel(base, { adapter: [run.adapterDir] });
  if (run.dvptDir) return loadModel(base, { dvpt: run.dvptDir });
  if (run.compositionDir) return loadComposition(await loadModel(base), run.compositionDir);
  if (method !== 'full') throw new Error(`a ${method} run wrote no adapter, composition or DVPT folder`);
  return loadModel(run.modelDir);
}
