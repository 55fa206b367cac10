// One llama.cpp measurement (run in its own process by peer.mjs): node-llama-cpp, CPU, 2 threads.
// argv: <node_modules dir of node-llama-cpp> <model.gguf> <prefill> <decode> <batch>
import { createRequire } from 'node:module';

const [modulesDir, modelPath, prefillArg, decodeArg, batchArg] = process.argv.slice(2);
const { getLlama, LlamaLogLevel } = await import(createRequire(`${modulesDir}/`).resolve('node-llama-cpp'));
const prefill = Number(prefillArg);
const decode = Number(decodeArg);
const batch = Number(batchArg);

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({
  contextSize: (prefill + decode + 16) * batch,
  sequences: batch,
  threads: 2,
  batchSize: prefill * batch,
});
const ids = (/** @type {number} */ seq) =>
  Array.from({ length: prefill }, (_, i) => 3 + ((i * 7919 + 13 + seq * 101) % 200)); // plain tokens, no specials

// Sequences are taken once and cleared between runs: a disposed sequence is not handed back at once
// ("No sequences left" on the second run at batch > 1).
const sequences = Array.from({ length: batch }, () => context.getSequence());

async function run() {
  await Promise.all(sequences.map((s) => s.clearHistory()));
  let start = performance.now();
  await Promise.all(sequences.map((s, b) => s.evaluateWithoutGeneratingNewTokens(ids(b))));
  const prefillMs = performance.now() - start;
  start = performance.now();
  await Promise.all(
    sequences.map(async (s, b) => {
      let n = 0;
      for await (const _ of s.evaluate([ids(b)[0]], { temperature: 0 })) if (++n >= decode) break;
    }),
  );
  const decodeMs = performance.now() - start;
  return { prefillMs, decodeMs };
}

await run(); // warm-up
const best = [await run(), await run()].reduce((a, b) => ({
  prefillMs: Math.min(a.prefillMs, b.prefillMs),
  decodeMs: Math.min(a.decodeMs, b.decodeMs),
}));
process.stdout.write(
  `${JSON.stringify({
    prefillTokensPerSecond: (prefill * batch) / (best.prefillMs / 1000),
    decodeTokensPerSecond: (decode * batch) / (best.decodeMs / 1000),
  })}\n`,
);
await context.dispose();
await model.dispose();
