// Shared by the serve benches: the request workload (TinyStories paragraphs) and one measured run of
// the serving engine under Poisson arrivals.
import { createServingEngine, modelPresets, presetDecoder } from '../../packages/engine/dist/index.js';
import { Mulberry32 } from '../../packages/tensor/dist/index.js';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/** @typedef {import('../../packages/engine/dist/index.js').ServeRequest} ServeRequest */
/** @typedef {import('../../packages/engine/dist/index.js').ServingEngineOptions} ServingEngineOptions */

/** The project's mulberry32: the workload is the same for every mode. */
/** @param {number} seed */
export function rng(seed) {
  const random = new Mulberry32(seed);
  return () => random.next();
}

/**
 * Requests from TinyStories paragraphs (first 300 kB of `corpus`): a prefix of
 * 8–40 tokens, then as many tokens as the paragraph has left (8–64).
 * @param {string} corpus @param {LoadedModel['tokenizer']} tokenizer @param {number} count @param {number} seed
 * @returns {ServeRequest[]}
 */
export function requestsFrom(corpus, tokenizer, count, seed) {
  const random = rng(seed);
  const paragraphs = corpus
    .slice(0, 300_000)
    .split('\n\n')
    .map((p) => tokenizer.encode(p.trim(), { addBos: false }))
    .filter((ids) => ids.length >= 48);
  return Array.from({ length: count }, () => {
    const ids = /** @type {number[]} */ (paragraphs[Math.floor(random() * paragraphs.length)]);
    const prompt = 8 + Math.floor(random() * 33);
    return {
      promptIds: [/** @type {number} */ (tokenizer.bosId), ...ids.slice(0, prompt)],
      maxNewTokens: Math.max(8, Math.min(64, ids.length - prompt)),
      stopAtEos: false,
    };
  });
}

/**
 * A preset shape (e.g. 'smollm-135m') with random weights (seed 1) as a LoadedModel, read with `tokenizer`.
 * @param {string} name @param {LoadedModel['tokenizer']} tokenizer
 * @returns {LoadedModel}
 */
export function presetModel(name, tokenizer) {
  const config = modelPresets[name];
  const decoder = presetDecoder(name, 1);
  if (!config || !decoder) throw new Error(`unknown model preset "${name}"`);
  return { decoder, tokenizer, config, source: { path: `preset:${name}`, format: 'safetensors' }, tensors: [] };
}

/** @param {readonly number[]} values @param {number} p */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return /** @type {number} */ (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
}

/**
 * A run of the engine under `limits`: Poisson arrivals at `rate` requests/s (Infinity: all at once);
 * throughput over first arrival → last finish. rowsPerStep counts the rows of a step's loops (a routed
 * step's second, readout-only call adds no rows); profile holds the kernel phases' wall ms.
 * @param {object} limits
 */
export function servingRun(limits) {
  /**
   * @param {LoadedModel} model @param {readonly ServeRequest[]} requests
   * @param {Partial<ServingEngineOptions>} options @param {number} rate @param {number} seed
   */
  return async function runMode(model, requests, options, rate, seed) {
    const engine = await createServingEngine(model, { threads: 1, scheduler: limits, ...options });
    engine.profile.enabled = true;
    const random = rng(seed);
    let at = 0;
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    /** Steps that sampled a token: each reads the LM head's weights once, however few rows it reads out. */
    const sampledSteps = new Set();
    const onToken = () => sampledSteps.add(engine.stats().stepsRun);
    const results = await Promise.all(
      requests.map((request) => {
        const delay = at;
        if (Number.isFinite(rate)) at += (-Math.log(1 - random()) / rate) * 1000;
        return new Promise((resolve) => setTimeout(resolve, delay)).then(() => engine.submit(request, { onToken }));
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const kernelMs = [...engine.profile.ms.values()].reduce((a, b) => a + b, 0);
    const tokens = results.reduce((s, r) => s + r.ids.length, 0);
    const depths = results.flatMap((r) => r.depths);
    const latencies = results.map((r) => r.totalMs);
    const profile = Object.fromEntries([...engine.profile.ms].map(([k, v]) => [k, v]));
    const stats = engine.stats();
    engine.dispose();
    // The longest request bounds the step count when all arrive at once: its length and mean depth.
    const longest = results.reduce((a, b) => (b.ids.length > a.ids.length ? b : a));
    const longestDepth = longest.depths.reduce((a, b) => a + b, 0) / longest.depths.length;
    return {
      tokens,
      seconds,
      cpuSeconds,
      tokensPerSecond: tokens / seconds,
      tokensPerCpuSecond: tokens / cpuSeconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      averageDepth: depths.reduce((a, b) => a + b, 0) / depths.length,
      steps: stats.stepsRun,
      headSteps: sampledSteps.size,
      otherMs: (seconds * 1000 - kernelMs) / stats.stepsRun,
      rowsPerStep: engine.profile.rows / Math.max(1, stats.stepsRun),
      profile,
      longest: { tokens: longest.ids.length, depth: longestDepth },
    };
  };
}
