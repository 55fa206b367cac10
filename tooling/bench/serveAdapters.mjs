// Serving cost of per-request adapters: the same mixed load (32 requests, 64 greedy tokens each, EOS
// ignored) on stories260K with no adapter, one rank-8 LoRA on every projection for every request, and
// 2 / 4 such LoRAs assigned round-robin. Runs interleaved (A, B, C, D, A, B, …); prints tokens/s per run
// and the load average. Usage: node tooling/bench/serveAdapters.mjs [rounds]
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../packages/engine/dist/node.js';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { defaultLoad, serveMixed, syntheticLora } from './adapterServing.mjs';

const hf = fileURLToPath(new URL('../../../shared/models/stories260K/hf', import.meta.url));
const rounds = Number(process.argv[2] ?? 2);
await initBackend();
const model = await loadModel(hf);

/** @param {number} adapterCount */
async function run(adapterCount) {
  const adapters = Array.from({ length: adapterCount }, (_, i) => syntheticLora(model, i + 1));
  try {
    return (await serveMixed(model, adapters, defaultLoad)).tokensPerSecond;
  } finally {
    for (const a of adapters) a.dispose();
  }
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
