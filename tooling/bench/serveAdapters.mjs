// Serving cost of per-request adapters: the same mixed load (32 requests, 64 greedy tokens each, EOS
// ignored) on stories260K with no adapter, one rank-8 LoRA on every projection for every request, and
// 2 / 4 such LoRAs assigned round-robin. Runs interleaved (A, B, C, D, A, B, …); prints tokens/s per run
// and the load average. Usage: node tooling/bench/serveAdapters.mjs [rounds]
import { fileURLToPath } from 'node:url';
import { createServingEngine } from '../../packages/engine/dist/index.js';
import { loadModel } from '../../packages/engine/dist/node.js';
import { DepthwiseLora, freshLora } from '../../packages/lora/dist/index.js';
import { gaussianArray, initBackend } from '../../packages/tensor/dist/index.js';
import { loadavg } from 'node:os';

const hf = fileURLToPath(new URL('../../../shared/models/stories260K/hf', import.meta.url));
const rounds = Number(process.argv[2] ?? 2);
await initBackend();
const model = await loadModel(hf);
/** @param {number} seed */
const lora = (seed) => {
  const arrays = freshLora({ config: model.decoder.config, rank: 8, seed });
  for (const [key, t] of arrays)
    if (key.includes('.lora_B.'))
      arrays.set(key, { data: gaussianArray(t.data.length, seed + key.length).map((v) => v * 0.05), shape: t.shape });
  return DepthwiseLora.fromArrays(arrays);
};

/** @param {number} adapterCount */
async function run(adapterCount) {
  const adapters = Array.from({ length: adapterCount }, (_, i) => lora(i + 1));
  const engine = await createServingEngine(model, { adapters });
  for (const a of adapters) a.dispose();
  const started = performance.now();
  const jobs = Array.from({ length: 32 }, (_, i) =>
    engine.submit({
      promptIds: [1, 403 + (i % 7)],
      maxNewTokens: 64,
      stopAtEos: false,
      adapter: adapterCount === 0 ? 0 : 1 + (i % adapterCount),
    }),
  );
  const results = await Promise.all(jobs);
  const seconds = (performance.now() - started) / 1000;
  engine.dispose();
  const tokens = results.reduce((n, r) => n + r.ids.length, 0);
  return tokens / seconds;
}

const configs = [0, 1, 2, 4];
/** @type {Map<number, number[]>} */
const rows = new Map(configs.map((c) => [c, []]));
for (let r = 0; r < rounds; r++) for (const c of configs) rows.get(c)?.push(await run(c));
for (const [c, rates] of rows)
  console.log(
    `${c === 0 ? 'no adapter' : `${c} adapter${c > 1 ? 's' : ''}`}: ${rates.map((x) => x.toFixed(0)).join(', ')} tok/s`,
  );
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
