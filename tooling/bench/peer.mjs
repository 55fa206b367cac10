// pnpm bench:peer — Recur against llama.cpp (npm node-llama-cpp, CPU, 2 threads) on the same GGUF
// files in one run: stories260K and a random SmolLM-135M-shaped model written by Recur's GGUF writer in
// F32, Q8_0 and Q4_0 (the quantized files run natively on Recur's fast path: int8/int4 blocks in the
// kernels). BENCH_MODELS=stories,f32,q8_0,q4_0 picks rows (default all).
// node-llama-cpp is installed here on first use (tooling/bench/.peer, git-ignored), never by the
// workspace install or CI. Each measurement runs in its own process; results go to docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { initBackend } from '../../packages/tensor/dist/index.js';
import { modelPresets } from '../../packages/engine/dist/index.js';
import { writeGgufModel } from '../../packages/engine/dist/node.js';
import { randomDecoder } from '../../packages/graph/dist/index.js';
import { loadAverage, machineDescription, recordSection, root } from './record.mjs';
import { installPeer, llamaVersion, peerDir } from './peer/install.mjs';

const prefill = Number(process.env.BENCH_PREFILL ?? 256);
const decode = Number(process.env.BENCH_DECODE ?? 64);
const batches = (process.env.BENCH_BATCHES ?? '1,8').split(',').map(Number);

/** @param {'F32' | 'Q8_0' | 'Q4_0'} dtype */
async function smolLmGguf(dtype) {
  const path = `${peerDir}/smollm-135m-random-${dtype.toLowerCase()}.gguf`;
  if (existsSync(path)) return path;
  await initBackend();
  const config = /** @type {NonNullable<(typeof modelPresets)[string]>} */ (modelPresets['smollm-135m']);
  const decoder = randomDecoder(config, { seed: 1 });
  const arrays = new Map(
    [...decoder.weights].map(([key, tensor]) => [key, /** @type {Float32Array} */ (tensor.dataSync())]),
  );
  decoder.dispose();
  await writeGgufModel({ config, arrays }, path, { dtype, tokenizer: 'placeholder' });
  return path;
}

/** @param {string} script @param {readonly string[]} args */
function measure(script, args) {
  const out = execFileSync(process.execPath, [`${root}tooling/bench/peer/${script}`, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  return JSON.parse(/** @type {string} */ (out.trim().split('\n').at(-1)));
}

installPeer();
const loadBefore = loadAverage();
const picked = (process.env.BENCH_MODELS ?? 'stories,f32,q8_0,q4_0').split(',');
const models = [];
if (picked.includes('stories'))
  models.push({ label: 'stories260K (GGUF original)', path: `${root}../shared/models/stories260K/stories260K.gguf` });
for (const dtype of /** @type {const} */ (['F32', 'Q8_0', 'Q4_0']))
  if (picked.includes(dtype.toLowerCase()))
    models.push({ label: `SmolLM-135M shape, random ${dtype} (Recur GGUF writer)`, path: await smolLmGguf(dtype) });
const rows = [];
for (const model of models) {
  for (const batch of batches) {
    const args = [model.path, String(prefill), String(decode), String(batch)];
    const recur = measure('recur.mjs', args);
    const llama = measure('llamaCpp.mjs', [`${peerDir}/node_modules`, ...args]);
    const ratio = (/** @type {number} */ a, /** @type {number} */ b) => `${(a / b).toFixed(2)}×`;
    console.log(
      `${model.label}, batch ${batch}: prefill Recur ${recur.prefillTokensPerSecond.toFixed(1)} vs llama.cpp ${llama.prefillTokensPerSecond.toFixed(1)} tok/s; decode ${recur.decodeTokensPerSecond.toFixed(1)} vs ${llama.decodeTokensPerSecond.toFixed(1)} tok/s`,
    );
    rows.push(
      `| ${model.label} | ${batch} | ${recur.prefillTokensPerSecond.toFixed(1)} | ${llama.prefillTokensPerSecond.toFixed(1)} | ${ratio(recur.prefillTokensPerSecond, llama.prefillTokensPerSecond)} | ${recur.decodeTokensPerSecond.toFixed(1)} | ${llama.decodeTokensPerSecond.toFixed(1)} | ${ratio(recur.decodeTokensPerSecond, llama.decodeTokensPerSecond)} | ${recur.backend}${recur.threads ? `, ${recur.threads} threads` : ''} |`,
    );
  }
}

recordSection(
  'peer',
  `## Recur vs llama.cpp (\`pnpm bench:peer\`)

Same GGUF files in both engines, in one run; prefill ${prefill} tokens per sequence, then ${decode} greedy decode steps
per sequence; batch b = b sequences (llama.cpp decodes them in one batch; Recur's fast path decodes them as one
batched call per step, weights read once for all b rows, and prefills them as one batched call whose rows of all
sequences share each pass in chunks).
llama.cpp: node-llama-cpp ${llamaVersion} prebuilt CPU binary, 2 threads. Best of 2 after a warm-up.
Measured ${new Date().toISOString().slice(0, 10)} on ${machineDescription()}; load average (1/5/15 min) ${loadBefore} before, ${loadAverage()} after
(ratios only hold within one run: other load slows both engines, unevenly).

| model | batch | Recur prefill tok/s | llama.cpp prefill tok/s | ratio | Recur decode tok/s | llama.cpp decode tok/s | ratio | Recur backend |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
${rows.join('\n')}`,
);
