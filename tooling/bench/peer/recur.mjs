// One Recur measurement (run in its own process by peer.mjs) on the built packages.
// argv: <model.gguf> <prefill> <decode> <batch>. Batch b = b independent sequences, each with its own KV cache.
// Runs the fast path (FastDecoder: fused kernels, 2 threads; batch b prefills as one batched call and
// decodes as one batched call per step) and falls back to the tfjs Decoder, one sequence after another, when the model has none.
import { initBackend, wasmThreads } from '../../../packages/tensor/dist/index.js';
import { argmax, disposeModel, fastDecoderFor } from '../../../packages/engine/dist/index.js';
import { loadModel } from '../../../packages/engine/dist/node.js';

const [modelPath, prefillArg, decodeArg, batchArg] = process.argv.slice(2);
const prefill = Number(prefillArg);
const decode = Number(decodeArg);
const batch = Number(batchArg);
const backend = await initBackend({ threads: Number(process.env.RECUR_THREADS ?? 2) });
const model = await loadModel(/** @type {string} */ (modelPath));
const { decoder } = model;
const quantMatrices = model.quantized?.size ?? 0; // handed to the fast decoder below
const { fast, reason } = await fastDecoderFor(model);
if (!fast) console.error(`recur: fast path unavailable (${reason}); timing the tfjs decoder`);
const ids = (/** @type {number} */ seq) =>
  Array.from({ length: prefill }, (_, i) => 3 + ((i * 7919 + 13 + seq * 101) % 200)); // same ids as the llama.cpp run

async function runFast() {
  const f = /** @type {NonNullable<typeof fast>} */ (fast); // only run when there is one
  const caches = Array.from({ length: batch }, () => f.newCache(prefill + decode));
  let start = performance.now();
  // One batched prefill: the sequences' rows share each pass through the layers (chunks of the fast
  // decoder's chunkRows rows, across sequences), as the serving engine admits several prompts at once.
  const next = f
    .forwardBatch(
      caches.map((cache, b) => ({ cache, ids: ids(b) })),
      { lastOnly: true },
    )
    .map((row) => argmax(row));
  const prefillMs = performance.now() - start;
  start = performance.now();
  for (let step = 0; step < decode; step++) {
    const logits = f.forwardBatch(
      caches.map((cache, b) => ({ cache, ids: [/** @type {number} */ (next[b])] })),
      { lastOnly: true },
    );
    logits.forEach((row, b) => (next[b] = argmax(row)));
  }
  const decodeMs = performance.now() - start;
  for (const cache of caches) cache.dispose();
  return { prefillMs, decodeMs };
}

async function runTfjs() {
  const caches = Array.from({ length: batch }, () => decoder.newCache());
  /** @type {number[]} */
  const next = [];
  let start = performance.now();
  for (const [b, cache] of caches.entries()) {
    const logits = decoder.forward(ids(b), { cache, lastOnly: true });
    next.push(argmax(await logits.data()));
    logits.dispose();
  }
  const prefillMs = performance.now() - start;
  start = performance.now();
  for (let step = 0; step < decode; step++) {
    for (const [b, cache] of caches.entries()) {
      const logits = decoder.forward([/** @type {number} */ (next[b])], { cache, lastOnly: true });
      next[b] = argmax(await logits.data());
      logits.dispose();
    }
  }
  const decodeMs = performance.now() - start;
  for (const cache of caches) cache.dispose();
  return { prefillMs, decodeMs };
}

const run = fast ? runFast : runTfjs;
await run(); // warm-up
const best = [await run(), await run()].reduce((a, b) => ({
  prefillMs: Math.min(a.prefillMs, b.prefillMs),
  decodeMs: Math.min(a.decodeMs, b.decodeMs),
}));
process.stdout.write(
  `${JSON.stringify({
    backend: fast
      ? `${backend} fast path${quantMatrices ? `, ${quantMatrices} matrices quantized natively` : ''}`
      : backend,
    threads: wasmThreads(),
    prefillTokensPerSecond: (prefill * batch) / (best.prefillMs / 1000),
    decodeTokensPerSecond: (decode * batch) / (best.decodeMs / 1000),
  })}\n`,
);
disposeModel(model);
