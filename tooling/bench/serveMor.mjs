// The MoR rows of `pnpm bench:serve` (issue 14 §5): expert- and token-choice Mixture-of-Recursions router
// models on the SmolLM-135M shape (random weights, cycle × 3: a 10-layer block looped 3 times) served with
// continuous depth-wise batching, against the same models at full depth (sequence-wise and CDB) and the
// vanilla 30-layer model sequence-wise; plus prefill tokens/s with routing vs full depth.
// BENCH_SERVE_ONLY=mor runs only these rows (tooling/bench/serve.mjs).
import {
  convertModel,
  depthRouting,
  disposeModel,
  withRouter,
  withRouterThreshold,
} from '../../packages/engine/dist/index.js';
import { FastDecoder, tokenDecision } from '../../packages/graph/dist/index.js';
import { balanceBiasKey } from '../../packages/router/dist/index.js';
import { tf } from '../../packages/tensor/dist/index.js';
import { trainedMorSection } from './serveMorTrained.mjs';
import { presetModel } from './serveRun.mjs';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/** @typedef {import('../../packages/engine/dist/index.js').ServeRequest} ServeRequest */
/** @typedef {import('../../packages/engine/dist/index.js').ServingEngineOptions} ServingEngineOptions */
/** @typedef {{ tokensPerSecond: number, tokensPerCpuSecond: number, p50: number, p99: number, averageDepth: number, rowsPerStep: number }} Measured */
/** @typedef {(model: LoadedModel, requests: readonly ServeRequest[], options: Partial<ServingEngineOptions>, rate: number, seed: number) => Promise<Measured>} RunMode */

/** Target depth distribution: the MoR capacities 1, 2/3, 1/3 at N_r = 3 (a third of the tokens at each depth). */
const capacities = [1, 2 / 3, 1 / 3];

/**
 * Token choice: loss-free-balancing-style bias on the router probabilities (u·sign(target − load), MoR §2.2.2)
 * until the depths of the workload's tokens split as the capacities say. CYCLE has no prologue, so a token's
 * routing state is its embedding row.
 * @param {LoadedModel} model @param {readonly number[]} ids
 */
function balancedTokenRouter(model, ids) {
  const routing = depthRouting(model, { kind: 'router' });
  if (routing.kind !== 'token') throw new Error('token router expected');
  const d = model.config.hiddenSize;
  const embedding = /** @type {tf.Tensor} */ (model.decoder.weights.get('model.embed_tokens.weight'));
  const rows = tf.tidy(() => /** @type {Float32Array} */ (tf.gather(embedding, Array.from(ids)).dataSync()));
  const bias = new Float32Array(3);
  const target = capacities.map((c, i) => c - (capacities[i + 1] ?? 0));
  for (let step = 0; step < 400; step++) {
    const load = new Float64Array(3);
    for (let t = 0; t < ids.length; t++) {
      const depth = tokenDecision({ ...routing, bias }, rows, t * d, d).depth;
      load[depth - 1] = (load[depth - 1] ?? 0) + 1;
    }
    load.forEach(
      (n, i) =>
        (bias[i] =
          /** @type {number} */ (bias[i]) +
          1e-4 * Math.sign(/** @type {number} */ (target[i]) - /** @type {number} */ (n) / ids.length)),
    );
  }
  const params = new Map(model.routerParams);
  params.get(balanceBiasKey)?.dispose();
  params.set(balanceBiasKey, tf.tensor1d(bias));
  return { ...model, routerParams: params };
}

/** Best-of-3 prefill tokens/s of one 128-token prompt on the fused kernels (1 thread), routed or at full depth. @param {LoadedModel} model @param {boolean} routed @param {readonly number[]} ids */
async function prefillRate(model, routed, ids) {
  const fast = /** @type {FastDecoder} */ (
    await FastDecoder.create(model.decoder.config, model.decoder.weights, { chunkRows: 64 })
  );
  fast.parallel = false;
  const kvMode = model.recur?.router?.kvMode ?? 'copy';
  let best = 0;
  for (let rep = 0; rep < 3; rep++) {
    const cache = fast.newCache(ids.length, kvMode);
    const start = performance.now();
    fast.forwardDepth(ids, {
      cache,
      kvMode,
      lastOnly: true,
      ...(routed && { routing: depthRouting(model, { kind: 'router' }) }),
    });
    best = Math.max(best, ids.length / ((performance.now() - start) / 1000));
    cache.dispose();
  }
  fast.dispose();
  return best;
}

/**
 * The SmolLM-135M-shape models of the MoR rows: the vanilla preset, its cycle×3 conversion, and the expert-
 * (calibrated thresholds) and token-choice (balanced bias) router models made from it for `requests`.
 * @param {LoadedModel['tokenizer']} tokenizer @param {readonly ServeRequest[]} requests
 */
export async function morModels(tokenizer, requests) {
  const preset = presetModel('smollm-135m', tokenizer);
  const rec = await convertModel(preset, {
    strategy: 'cycle',
    loops: 3,
    init: 'stepwise',
    ranks: { attention: 0, mlp: 0 },
    loraInit: 'zero',
    norms: 'tied',
  });
  const windows = requests.slice(0, 6).map((r) => r.promptIds);
  const expert = withRouterThreshold(
    withRouter(rec, { kind: 'expert', kvMode: 'recursion-wise', seed: 3 }),
    'calibrated',
    { windows },
  );
  const token = balancedTokenRouter(
    withRouter(rec, { kind: 'token', kvMode: 'recursion-wise', balance: 'loss-free', seed: 3 }),
    requests.flatMap((r) => r.promptIds),
  );
  const dispose = () => {
    for (const m of [expert, token]) for (const t of m.routerParams?.values() ?? []) t.dispose();
    disposeModel(rec);
    preset.decoder.dispose();
  };
  return { preset, rec, expert, token, dispose };
}

/**
 * Runs the MoR rows; returns the markdown of the section.
 * @param {{ runMode: RunMode, requests: readonly ServeRequest[], stories: LoadedModel, corpus: string, limits: object, machine: string }} ctx
 */
export async function morSection({ runMode, requests, stories, corpus, limits, machine }) {
  const tokenizer = stories.tokenizer;
  const { preset, rec, expert, token, dispose } = await morModels(tokenizer, requests);
  /** @type {[string, LoadedModel, Partial<ServingEngineOptions>][]} */
  const modes = [
    ['vanilla 30 layers, continuous sequence-wise', preset, { mode: 'continuous-sequence' }],
    ['cycle×3 source, continuous sequence-wise (full depth)', rec, { mode: 'continuous-sequence' }],
    ['cycle×3 source, CDB, full depth', rec, { mode: 'continuous-depth' }],
    ['MoR expert-choice (calibrated), CDB, recursion-wise KV', expert, { mode: 'continuous-depth' }],
    ['MoR expert-choice (calibrated), CDB, shared KV', expert, { mode: 'continuous-depth', kvMode: 'shared' }],
    ['MoR token-choice (balanced), CDB, recursion-wise KV', token, { mode: 'continuous-depth' }],
  ];
  const lines = [];
  for (const [name, model, options] of modes) {
    const r = await runMode(model, requests, options, Infinity, 11);
    console.log(
      `mor | ${name} | ${r.tokensPerSecond.toFixed(1)} tok/s | ${r.tokensPerCpuSecond.toFixed(1)} tok/CPU-s | p50 ${r.p50.toFixed(0)} ms | p99 ${r.p99.toFixed(0)} ms | depth ${r.averageDepth.toFixed(2)}`,
    );
    lines.push(
      `| ${name} | ${r.tokensPerSecond.toFixed(1)} | ${r.tokensPerCpuSecond.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.averageDepth.toFixed(2)} | ${r.rowsPerStep.toFixed(1)} |`,
    );
  }
  const prompt = requests.flatMap((r) => r.promptIds).slice(0, 128);
  const prefill = [];
  for (const [name, model] of /** @type {const} */ ([
    ['expert-choice', expert],
    ['token-choice', token],
  ])) {
    const [routed, full] = [await prefillRate(model, true, prompt), await prefillRate(model, false, prompt)];
    console.log(`mor prefill | ${name} | routed ${routed.toFixed(1)} tok/s | full depth ${full.toFixed(1)} tok/s`);
    prefill.push(`| ${name} | ${routed.toFixed(1)} | ${full.toFixed(1)} | ${(routed / full).toFixed(2)} |`);
  }
  dispose();
  const trained = await trainedMorSection({ runMode, requests, stories, corpus });
  const [load1, load5] = (await import('node:os')).loadavg();
  return `## Serving MoR router models (\`BENCH_SERVE_ONLY=mor pnpm bench:serve\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${machine}; load average ${load1?.toFixed(2)} (1 min) / ${load5?.toFixed(2)} (5 min) at the end;
wasm backend, 1 kernel thread, limits ${JSON.stringify(limits)}, the ${requests.length} requests of the serve bench's
workload all at once (one run each). Models: the SmolLM-135M shape with random weights (seed 1); cycle×3 = a
10-layer block looped 3 times (Stepwise init, no LoRA) — the source of both router models. Router weights are
random (N(0, 0.02²)) and set so the depths follow the MoR capacities 1, 2/3, 1/3 (a third of the tokens at each
depth): expert-choice thresholds calibrated per recursion on 6 of the prompts (\`withRouterThreshold\`, as
\`recur train\` does); token-choice with a loss-free balancing bias fitted to the workload's prompt tokens. The
measured average depth includes generated tokens, which a random model draws from a narrow set, so it strays from
the target 2.00. tokens/CPU-s, latency and depth as in the section above; rows/step counts the rows that ran a
loop per engine step (a routed step's second, readout-only call adds none).

Why routing saves little CPU per token here (\`node tooling/bench/serveMorProfile.mjs\` profiles these runs):
routing cuts the block rows per token by a fifth to a third, and the block kernels' CPU per token falls with
them, but (1) with all requests arriving at once the step count is set by the longest request (64 tokens),
whose generated tokens run ≈ 3 loops under both routers, so routed and full-depth runs take the same ≈ 192
steps and read the block's weights as often; and (2) at full depth the requests move in lockstep, so their
samples bunch into a third of the steps, while routing spreads them over nearly every step — the LM head
(28 M weights, 80% of the 10-layer block's) is then read about twice as often for fewer rows each. JS routing
work (router dot products, gated updates, state copies, the readout call) is under 1 ms per token.

| model | tokens/s | tokens/CPU-s | p50 ms | p99 ms | avg depth | rows/step |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${lines.join('\n')}

Prefill of one 128-token prompt (\`FastDecoder.forwardDepth\`, recursion-wise KV, best of 3), routed vs the same
model at full depth (every token all 3 loops, ungated):

| router | routed tokens/s | full depth tokens/s | ratio |
| --- | ---: | ---: | ---: |
${prefill.join('\n')}

${trained}`;
}
