// pnpm experiment:mor — Mixture-of-Recursions (Bae et al. 2025, arXiv 2507.10524) at small scale on the
// TinyStories slice: vanilla, recursive (cycle, middle-cycle) and MoR expert-/token-choice at N_r = 2, 3,
// trained from scratch at equal training FLOPs (3 × forward FLOPs × tokens); held-out NLL, unique
// parameters, average depth and KV memory read off the DepthKvCache. Then an early-exit curve
// (perplexity vs average depth) for stories260K converted to middle-cycle × 2 and uptrained with
// distillation at every exit. Writes docs/results/mor.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '../../packages/tensor/dist/index.js';
import { balanceBiasKey, depthForward } from '../../packages/router/dist/index.js';
import {
  convertModel,
  disposeModel,
  evaluateDepths,
  parseExitRule,
  routedSequence,
  withRouter,
  withRouterThreshold,
} from '../../packages/engine/dist/index.js';
import { heldOutLoss, loadModel, scratchModel, trainModel, trainingData } from '../../packages/engine/dist/node.js';
import { loadWindow, machineDescription } from '../bench/record.mjs';
import { morFlops, renderReport } from './morReport.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const corpus = `${root}../shared/corpora/tinystories_val/tinystories_val.txt`;
const stories = `${root}../shared/models/stories260K/hf`;
const threads = Number(process.env.RECUR_THREADS ?? 1);
const vanillaSteps = Number(process.env.EXPERIMENT_STEPS ?? 40);
const exitSteps = Number(process.env.EXPERIMENT_EXIT_STEPS ?? 60);
const evalWindows = Number(process.env.EXPERIMENT_WINDOWS ?? 24);
const batch = 8;
const seqLen = 128;
const lr = 3e-3;
const cache = `${root}.cache/mor`;
const base = {
  hidden_size: 64,
  intermediate_size: 172,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 8,
  vocab_size: 512,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  bos_token_id: 1,
  eos_token_id: 2,
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
};
/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/** @typedef {import('../../packages/engine/dist/index.js').MorTraining} MorTraining */
/**
 * @typedef {{
 *   name: string,
 *   layers: number,
 *   recursive?: { loops: number, strategy: import('../../packages/graph/dist/index.js').SharingStrategy },
 *   router?: 'expert' | 'token',
 *   balance?: 'loss' | 'loss-free',
 * }} Spec
 */
/** @typedef {{ floatsPerToken: number, blockRowsPerToken: number }} KvUse */
/**
 * A router model's (routed calls run only when `mor` is set).
 * @typedef {NonNullable<LoadedModel['routerParams']>} RouterParams
 */
/** @type {Spec[]} */
const specs = [
  { name: 'vanilla', layers: 6 },
  { name: 'recursive cycle N=3', layers: 6, recursive: { loops: 3, strategy: 'cycle' } },
  { name: 'recursive middle-cycle N=2', layers: 6, recursive: { loops: 2, strategy: 'middle-cycle' } },
  { name: 'MoR expert N_r=2', layers: 6, recursive: { loops: 2, strategy: 'middle-cycle' }, router: 'expert' },
  { name: 'MoR token N_r=2', layers: 6, recursive: { loops: 2, strategy: 'middle-cycle' }, router: 'token' },
  {
    name: 'MoR token N_r=2 loss-free',
    layers: 6,
    recursive: { loops: 2, strategy: 'middle-cycle' },
    router: 'token',
    balance: 'loss-free',
  },
  { name: 'MoR expert N_r=3', layers: 8, recursive: { loops: 3, strategy: 'middle-cycle' }, router: 'expert' },
  { name: 'MoR token N_r=3', layers: 8, recursive: { loops: 3, strategy: 'middle-cycle' }, router: 'token' },
  {
    name: 'MoR token N_r=3 loss-free',
    layers: 8,
    recursive: { loops: 3, strategy: 'middle-cycle' },
    router: 'token',
    balance: 'loss-free',
  },
];

await initBackend({ threads });
mkdirSync(cache, { recursive: true });
const started = performance.now();
const loadSpan = loadWindow();
const tokenizerSource = await loadModel(stories);
const data = await trainingData({
  textFile: corpus,
  tokenizer: tokenizerSource.tokenizer,
  tokenizerIdentity: 'stories260K',
  cacheDir: `${cache}/tokens`,
  seqLen,
  batchSize: batch,
  valFraction: 0.1,
  seed: 0,
});
const windows = data.validation.slice(0, evalWindows);
// Expert-choice thresholds are calibrated on other held-out windows than the ones scored (never trained on either).
const calibrationWindows = data.validation.slice(evalWindows, 3 * evalWindows);
const kvWindows = windows.slice(0, 4);
const vanillaFlops = morFlops(configOf(/** @type {Spec} */ (specs[0])), null, seqLen);
const rows = [];
for (const spec of specs) rows.push(await runSpec(spec));
const exit = await earlyExitCurve();
const results = {
  rows,
  exit,
  date: new Date().toISOString().slice(0, 10),
  machine: machineDescription(),
  threads,
  batch,
  seqLen,
  lr,
  vanillaSteps,
  exitSteps,
  heldTokens: windows.reduce((n, w) => n + w.length - 1, 0),
  windows: windows.length,
  minutes: (performance.now() - started) / 60000,
  commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(),
  seeds: { init: 1, data: 0 },
  loadAverage: loadSpan(),
};
// the raw numbers; renderReport re-renders the report from them
writeFileSync(`${root}docs/results/mor.json`, `${JSON.stringify(results, null, 1)}\n`);
writeFileSync(`${root}docs/results/mor.md`, renderReport(results));
console.log('wrote docs/results/mor.json');
console.log('wrote docs/results/mor.md');
disposeModel(tokenizerSource);

/** @param {Spec} spec */
function configOf(spec) {
  return { ...base, num_hidden_layers: spec.layers };
}

/** @param {Spec} spec */
async function runSpec(spec) {
  const dir = `${cache}/${spec.name.replace(/[^a-z0-9]+/gi, '-')}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/config.json`, JSON.stringify(configOf(spec)));
  const fresh = await scratchModel({
    configFile: `${dir}/config.json`,
    tokenizer: { file: `${stories}/tokenizer.json` },
    dir: `${dir}/tokenizer`,
    seed: 1,
    ...(spec.recursive && { recursive: spec.recursive }),
  });
  const model = spec.router
    ? withRouter(fresh, { kind: spec.router, seed: 1, ...(spec.balance && { balance: spec.balance }) })
    : fresh;
  const flops = morFlops(configOf(spec), spec.recursive ? { ...spec.recursive, router: spec.router } : null, seqLen);
  const steps = Math.max(1, Math.round((vanillaSteps * vanillaFlops.perToken) / flops.perToken));
  const result = await trainModel({
    model,
    textFile: corpus,
    out: `${dir}/run`,
    steps,
    seqLen,
    batchSize: batch,
    trainable: 'all',
    schedule: {
      kind: 'cosine',
      peakLr: lr,
      warmupSteps: Math.min(20, Math.floor(steps / 10)),
      totalSteps: steps,
      minLrRatio: 0.1,
    },
    valFraction: 0.1,
    evalEvery: 0,
    saveEvery: 0,
    evalWindows: 1,
    finalEvalWindows: 1,
    seed: 0,
  });
  const loaded = await loadModel(result.modelDir);
  const trained =
    spec.router === 'expert' ? withRouterThreshold(loaded, 'calibrated', { windows: calibrationWindows }) : loaded;
  const row = {
    name: spec.name,
    spec,
    steps,
    tokens: result.tokens,
    trainFlops: 3 * flops.perToken * result.tokens,
    forwardPerToken: flops.perToken,
    expectedLoops: flops.expectedLoops,
    seconds: result.seconds,
    parameters: uniqueParameters(trained),
    ...evaluate(trained, spec),
  };
  console.log(
    `${spec.name}: ${steps} steps, NLL ${row.nll.toFixed(4)}${row.causalNll ? ` (causal ${row.causalNll.toFixed(4)})` : ''}, depth ${row.averageDepth.toFixed(2)}, ${row.seconds.toFixed(0)} s`,
  );
  disposeModel(trained);
  disposeModel(model);
  return row;
}

/** @param {LoadedModel} model */
function uniqueParameters(model) {
  return model.decoder.parameterCount + [...(model.routerParams?.values() ?? [])].reduce((n, t) => n + t.size, 0);
}

/** Held-out NLL under the training routing, the causal decode rule (routers) and KV floats per token. */
/**
 * @param {LoadedModel} model @param {Spec} spec
 * @returns {{ nll: number, averageDepth: number, causalNll?: number, causalDepth?: number, halfNll?: number, halfDepth?: number, thresholds?: readonly number[], balanceBias?: number[], kv: Record<'recursion-wise' | 'shared', KvUse> }}
 */
function evaluate(model, spec) {
  const router = model.recur?.router;
  const mor = router
    ? {
        kind: router.kind,
        alpha: router.alpha,
        kvMode: router.kvMode,
        ...(router.kind === 'token' && { tokenForm: router.tokenForm, balance: router.balance }),
      }
    : null;
  const loops = model.decoder.loops.loops.length;
  const kv = { 'recursion-wise': kvPerToken(model, mor, 'recursion-wise'), shared: kvPerToken(model, mor, 'shared') };
  if (!mor) return { nll: heldOutLoss(model.decoder, windows).meanNll, averageDepth: spec.recursive ? loops : 1, kv };
  const routed = routedNll(model, mor);
  const scored = windows.map((w) => Array.from(w));
  const causal = evaluateDepths(model, { windows: scored, rule: parseExitRule('router'), perLoop: false });
  const row = {
    nll: routed.nll,
    averageDepth: routed.depth,
    causalNll: Math.log(policyOf(causal).perplexity),
    causalDepth: policyOf(causal).averageDepth,
    kv,
  };
  if (mor.kind !== 'expert')
    return router?.balance === 'loss-free'
      ? {
          ...row,
          balanceBias: Array.from(
            /** @type {RouterParams} */ (model.routerParams).get(balanceBiasKey)?.dataSync() ?? [],
          ),
        }
      : row;
  // The σ > 0.5 rule beside the calibrated per-recursion thresholds the model was saved with.
  const half = evaluateDepths(model, { windows: scored, rule: parseExitRule('router:0.5'), perLoop: false });
  return {
    ...row,
    halfNll: Math.log(policyOf(half).perplexity),
    halfDepth: policyOf(half).averageDepth,
    thresholds: model.recur?.router?.thresholds ?? [],
  };
}

/** @param {LoadedModel} model @param {MorTraining} mor */
function routedNll(model, mor) {
  let nll = 0;
  let tokens = 0;
  let depth = 0;
  for (const w of windows) {
    tf.tidy(() => {
      const r = routedSequence(
        model.decoder,
        /** @type {RouterParams} */ (model.routerParams),
        mor,
        w.subarray(0, w.length - 1),
        Infinity,
      );
      const logp = tf.logSoftmax(r.logits);
      const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(w.subarray(1), 'int32'), logp.shape[1]))).dataSync()[0];
      nll -= /** @type {number} */ (picked);
      tokens += w.length - 1;
      depth += r.depths.reduce((a, b) => a + b, 0);
      r.cache.dispose();
    });
  }
  return { nll: nll / tokens, depth: depth / tokens };
}

/**
 * evaluateDepths reports `policy` whenever it is given a rule, as every call here does.
 * @param {import('../../packages/engine/dist/index.js').DepthEvaluation} evaluation
 */
function policyOf(evaluation) {
  return /** @type {NonNullable<typeof evaluation.policy>} */ (evaluation.policy);
}

/** KV floats held per token after a forward over held-out windows (block + prologue/epilogue slots). */
/**
 * @param {LoadedModel} model
 * @param {MorTraining | null} mor
 * @param {'recursion-wise' | 'shared'} mode
 * @returns {KvUse}
 */
function kvPerToken(model, mor, mode) {
  let floats = 0;
  let blockRows = 0;
  let tokens = 0;
  for (const w of kvWindows) {
    const ids = w.subarray(0, w.length - 1);
    tf.tidy(() => {
      const r = mor
        ? routedSequence(
            model.decoder,
            /** @type {RouterParams} */ (model.routerParams),
            { ...mor, kvMode: mode },
            ids,
            Infinity,
          )
        : { cache: model.decoder.newDepthCache(mode) };
      if (!mor) depthForward(model.decoder, ids, { cache: r.cache });
      floats += r.cache.elementCount();
      blockRows += r.cache.blockEntries();
      tokens += ids.length;
      r.cache.dispose();
    });
  }
  return { floatsPerToken: floats / tokens, blockRowsPerToken: blockRows / tokens };
}

/** stories260K → middle-cycle × 2 (lower init), uptrained with distillation at both exits; maxProb sweep. */
async function earlyExitCurve() {
  const converted = await convertModel(tokenizerSource, {
    strategy: 'middle-cycle',
    loops: 2,
    init: 'lower',
    ranks: { attention: 8, mlp: 8 },
    loraInit: 'svd',
    norms: 'per-loop',
  });
  const out = `${cache}/early-exit`;
  rmSync(out, { recursive: true, force: true });
  const result = await trainModel({
    model: converted,
    teacher: tokenizerSource,
    distillation: { alpha: 0.5, temperature: 2 },
    exit: { weights: [1, 1] },
    textFile: corpus,
    out,
    steps: exitSteps,
    seqLen,
    batchSize: 4,
    trainable: 'shared+lora',
    schedule: {
      kind: 'cosine',
      peakLr: 2e-3,
      warmupSteps: Math.min(10, Math.floor(exitSteps / 10)),
      totalSteps: exitSteps,
    },
    valFraction: 0.1,
    evalEvery: 0,
    saveEvery: 0,
    evalWindows: 1,
    finalEvalWindows: 1,
  });
  const trained = await loadModel(result.modelDir);
  const blockLayers = trained.decoder.loops.loops[0]?.length ?? 0;
  const exitWindows = windows.slice(0, 6).map((w) => Array.from(w));
  const fixed = evaluateDepths(trained, { windows: exitWindows });
  const curve = [];
  for (const p of [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) {
    const r = evaluateDepths(trained, { windows: exitWindows, rule: parseExitRule(`maxprob:${p}`), kvMode: 'copy' });
    curve.push({ threshold: p, perplexity: policyOf(r).perplexity, averageDepth: policyOf(r).averageDepth });
    console.log(
      `maxprob:${p}: ppl ${policyOf(r).perplexity.toFixed(3)} at depth ${policyOf(r).averageDepth.toFixed(3)}`,
    );
  }
  const teacherPpl = Math.exp(
    heldOutLoss(
      tokenizerSource.decoder,
      exitWindows.map((w) => Int32Array.from(w)),
    ).meanNll,
  );
  disposeModel(trained);
  disposeModel(converted);
  return {
    perLoop: fixed.perLoop,
    curve,
    teacherPpl,
    steps: exitSteps,
    tokens: result.tokens,
    windows: exitWindows.length,
    blockLayers,
    executedLayers:
      trained.decoder.loops.prologue.length +
      trained.decoder.loops.loops.length * blockLayers +
      trained.decoder.loops.epilogue.length,
  };
}
