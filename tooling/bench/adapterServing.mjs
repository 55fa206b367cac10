// Shared by bench/serveAdapters.mjs and experiments/adapters.mjs: the serving cost of per-request adapters —
// one mixed load (every request greedy, EOS ignored, adapters assigned round-robin) through the serving
// engine, measured as tokens per second and per CPU-second.
import { createServingEngine } from '../../packages/engine/dist/index.js';
import { DepthwiseLora, freshLora } from '../../packages/lora/dist/index.js';
import { gaussianArray } from '../../packages/tensor/dist/index.js';

/** @typedef {import('../../packages/engine/dist/index.js').LoadedModel} LoadedModel */
/** @typedef {{ requests: number, newTokens: number }} MixedLoad */

/** The load the adapter benches use: 32 requests of 64 tokens. */
export const defaultLoad = { requests: 32, newTokens: 64 };

/**
 * A rank-8 LoRA on every projection with small random B (a fresh LoRA's B is zero, which a kernel could skip).
 * @param {LoadedModel} model @param {number} seed
 */
export function syntheticLora(model, seed) {
  const arrays = freshLora({ config: model.decoder.config, rank: 8, seed });
  for (const [key, t] of arrays)
    if (key.includes('.lora_B.'))
      arrays.set(key, { data: gaussianArray(t.data.length, seed + key.length).map((v) => v * 0.05), shape: t.shape });
  return DepthwiseLora.fromArrays(arrays);
}

/**
 * Serves `load` on `model` with `adapters` (none: the base for every request; else request i uses adapter
 * 1 + i mod n). The engine copies the adapters; the caller still owns them.
 * @param {LoadedModel} model @param {readonly DepthwiseLora[]} adapters @param {MixedLoad} load
 */
export async function serveMixed(model, adapters, load) {
  const engine = await createServingEngine(model, { adapters });
  try {
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    const jobs = Array.from({ length: load.requests }, (_, i) =>
      engine.submit({
        promptIds: [1, 403 + (i % 7)],
        maxNewTokens: load.newTokens,
        stopAtEos: false,
        adapter: adapters.length === 0 ? 0 : 1 + (i % adapters.length),
      }),
    );
    const results = await Promise.all(jobs);
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const tokens = results.reduce((n, r) => n + r.ids.length, 0);
    return { tokens, seconds, cpuSeconds, tokensPerSecond: tokens / seconds, tokensPerCpuSecond: tokens / cpuSeconds };
  } finally {
    engine.dispose();
  }
}
