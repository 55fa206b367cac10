// node tooling/bench/serveMorProfile.mjs [full|expert|token …] — where a served token's CPU goes under MoR
// routing vs full depth: the serve-mor workload (12 TinyStories requests all at once, 1 kernel thread) on the
// SmolLM-135M-shape cycle×3 model, CDB at full depth and with its expert-/token-choice routers. The modes run
// interleaved (A B C A B C …, the machine is shared) and the best run by tokens/CPU-s counts. Per mode: steps,
// rows per step (rows that ran a loop), tokens per step, and per generated token the CPU ms and the kernel
// phases' wall ms (FastProfile); "JS" is CPU outside the kernel phases (routing, state copies, scheduler).
// Run under `node --cpu-prof` for a per-function profile. Prints; records nothing.
import { readFileSync } from 'node:fs';
import { loadModel } from '../../packages/engine/dist/node.js';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { root } from './record.mjs';
import { morModels } from './serveMor.mjs';
import { requestsFrom, servingRun } from './serveRun.mjs';

const repeats = Number(process.env.BENCH_REPEATS ?? 2);
const count = Number(process.env.BENCH_REQUESTS ?? 12);
const wanted = process.argv.slice(2);
const limits = { maxRowsPerStep: 32, tokenBudgetPerStep: 256, prefillChunk: 32 };
const runMode = servingRun(limits);

await initBackend();
const corpus = readFileSync(`${root}../shared/corpora/tinystories_val/tinystories_val.txt`, 'utf8');
const stories = await loadModel(`${root}../shared/models/stories260K/hf`);
const requests = requestsFrom(corpus, stories.tokenizer, count, 7);
const models = await morModels(stories.tokenizer, requests);
/** @type {[string, import('../../packages/engine/dist/index.js').LoadedModel][]} */
const modes = /** @type {[string, import('../../packages/engine/dist/index.js').LoadedModel][]} */ ([
  ['full', models.rec],
  ['expert', models.expert],
  ['token', models.token],
]).filter(([name]) => wanted.length === 0 || wanted.includes(name));
/** @type {Map<string, Awaited<ReturnType<typeof runMode>>>} */
const best = new Map();
for (let rep = 0; rep < repeats; rep++)
  for (const [name, model] of modes) {
    const r = await runMode(model, requests, { mode: 'continuous-depth' }, Infinity, 11);
    console.log(`${name} run ${rep}: ${r.tokensPerCpuSecond.toFixed(1)} tok/CPU-s`);
    if (!best.has(name) || r.tokensPerCpuSecond > /** @type {typeof r} */ (best.get(name)).tokensPerCpuSecond)
      best.set(name, r);
  }
// Kernel phases are wall ms; under load they are scaled by the run's CPU/wall to estimate their CPU.
const block = ['norm', 'qkv', 'rope', 'attention', 'oProj', 'gateUp', 'silu', 'down'];
console.log(
  '| mode | tok/CPU-s | depth | steps | steps with a head readout | rows/step | tok/step | longest (tokens @ depth) | CPU ms/tok | block | attention | head | JS + other |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [name, r] of best) {
  const cpuOf = (/** @type {number} */ wallMs) => (wallMs * r.cpuSeconds) / r.seconds;
  const perTok = (/** @type {number} */ ms) => (ms / r.tokens).toFixed(2);
  const sum = (/** @type {string[]} */ keys) => keys.reduce((a, k) => a + (r.profile[k] ?? 0), 0);
  const kernels = cpuOf(sum(Object.keys(r.profile)));
  console.log(
    `| ${name} | ${r.tokensPerCpuSecond.toFixed(1)} | ${r.averageDepth.toFixed(2)} | ${r.steps} | ${r.headSteps} | ${r.rowsPerStep.toFixed(1)} | ${(r.tokens / r.steps).toFixed(2)} | ${r.longest.tokens} @ ${r.longest.depth.toFixed(2)} | ${perTok(r.cpuSeconds * 1000)} | ${perTok(cpuOf(sum(block)))} | ${perTok(cpuOf(sum(['attention'])))} | ${perTok(cpuOf(sum(['head', 'embed'])))} | ${perTok(r.cpuSeconds * 1000 - kernels)} |`,
  );
}
models.dispose();
