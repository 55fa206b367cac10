// Decode speed of every folder of `pnpm experiment:sharing`, in its own process so the wasm backend runs on its
// own thread count (the experiment trains on 1): `node sharingDecode.mjs THREADS PROMPT DECODE ROUNDS DIR…`.
// Batch-1 cached decode on the path `generate` takes (the fast path when the model allows it), the folders
// interleaved round by round (A, B, …, A, B, …) so load drifts hit them alike; per folder the best round's
// tokens per CPU-second (this process's CPU, worker threads included: robust to a loaded machine) and
// tokens per wall second. Prints one JSON array.
import { disposeModel, tokenRunner } from '../../packages/engine/dist/index.js';
import { loadModel } from '../../packages/engine/dist/node.js';
import { initBackend } from '../../packages/tensor/dist/index.js';

const counts = process.argv.slice(2, 6).map(Number);
const dirs = process.argv.slice(6);
if (counts.length !== 4 || !counts.every((n) => Number.isInteger(n) && n > 0) || dirs.length === 0)
  throw new RangeError('usage: sharingDecode.mjs THREADS PROMPT DECODE ROUNDS DIR…');
const [threads, promptTokens, decodeTokens, rounds] = /** @type {[number, number, number, number]} */ (counts);

await initBackend({ threads });
const models = [];
for (const dir of dirs) models.push(await loadModel(dir));
/** @type {{ dir: string, path: string, tokensPerCpuSecond: number, tokensPerSecond: number }[]} */
const best = dirs.map((dir) => ({ dir, path: '', tokensPerCpuSecond: 0, tokensPerSecond: 0 }));
for (let round = 0; round < rounds; round++)
  for (const [i, model] of models.entries()) {
    const measured = await decodeOnce(model);
    const row = best[i];
    if (row && measured.tokensPerCpuSecond > row.tokensPerCpuSecond) Object.assign(row, measured);
  }
for (const model of models) disposeModel(model);
process.stdout.write(`${JSON.stringify(best)}\n`);

/** One prompt of fixed ids, then `decodeTokens` cached steps, greedy (a fixed id is fine for timing). */
async function decodeOnce(/** @type {import('../../packages/engine/dist/index.js').LoadedModel} */ model) {
  const runner = await tokenRunner(model, undefined, promptTokens + decodeTokens + 1);
  try {
    await runner.next(Array.from({ length: promptTokens }, (_, i) => 1 + (i % 100)));
    const cpu = process.cpuUsage();
    const wall = performance.now();
    for (let step = 0; step < decodeTokens; step++) {
      const logits = await runner.next([3 + (step % 50)]);
      if (!Number.isFinite(logits[0])) throw new Error(`decode step ${step}: the logits are not finite`);
    }
    const used = process.cpuUsage(cpu);
    return {
      path: runner.path,
      tokensPerCpuSecond: decodeTokens / ((used.user + used.system) / 1e6),
      tokensPerSecond: decodeTokens / ((performance.now() - wall) / 1000),
    };
  } finally {
    runner.dispose();
  }
}
