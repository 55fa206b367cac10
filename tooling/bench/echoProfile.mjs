// node tooling/bench/echoProfile.mjs [decode|prefill] — where an EchoAtt model's fast path saves time: the
// SmolLM-135M shape (random fp32 weights) plain and with bench:forward's plan (13 of 30 steps reuse the step
// before), 256-token prompt, per-phase CPU milliseconds (process.cpuUsage: robust to other load at one thread),
// the two interleaved (A, B, A, B) R times (env R, default 3; T threads, default 1). Prints the best of each and the
// plain / echo CPU ratio; records nothing.
const { initBackend } = await import('../../packages/tensor/dist/index.js');
const { FastDecoder, randomDecoder } = await import('../../packages/graph/dist/index.js');
const { modelPresets, echoDecoder } = await import('../../packages/engine/dist/index.js');

const threads = Number(process.env.T ?? 1);
const repeats = Number(process.env.R ?? 3);
const mode = process.argv[2] ?? 'decode';
if (mode !== 'decode' && mode !== 'prefill') throw new Error(`echoProfile: decode or prefill, got ${mode}`);
await initBackend({ backend: 'wasm', threads });
const config = /** @type {NonNullable<(typeof modelPresets)[string]>} */ (modelPresets['smollm-135m']);
const plan = Array.from({ length: 13 }, (_, i) => ({ step: 3 + 2 * i, source: 2 + 2 * i }));
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** A FastDecoder whose profile laps in CPU time. @param {any} decoder */
async function fastOf(decoder) {
  const fast = /** @type {any} */ (await FastDecoder.create(decoder.config, decoder.weights));
  fast.profile.start = function () {
    return this.enabled ? cpuMs() : 0;
  };
  fast.profile.lap = function (/** @type {string} */ phase, /** @type {number} */ since) {
    if (!this.enabled) return 0;
    const now = cpuMs();
    this.ms.set(phase, (this.ms.get(phase) ?? 0) + now - since);
    return now;
  };
  return fast;
}
const plain = await fastOf(randomDecoder(config, { seed: 1 }));
const echo = await fastOf(echoDecoder(/** @type {any} */ (randomDecoder(config, { seed: 1 })), plan));
const ids = Array.from({ length: 256 }, (_, i) => 3 + ((i * 7919 + 13) % 200));

/** One timed run: decode = 32 cached steps after the prompt (per step), prefill = the prompt. @param {any} fast */
function measure(fast) {
  const cache = fast.newCache(256 + 64);
  if (mode === 'decode') fast.forward(ids, { cache, lastOnly: true });
  const n = mode === 'decode' ? 32 : 1;
  fast.profile.reset();
  fast.profile.enabled = true;
  const start = cpuMs();
  if (mode === 'decode') for (let s = 0; s < n; s++) fast.forward([(s * 7) % 200], { cache, lastOnly: true });
  else fast.forward(ids, { cache, lastOnly: true });
  const cpu = (cpuMs() - start) / n;
  const phases = Object.fromEntries([...fast.profile.ms].map(([k, v]) => [k, Number((v / n).toFixed(3))]));
  fast.profile.enabled = false;
  cache.dispose();
  return { cpu, phases };
}

measure(plain);
measure(echo);
/** @type {{ plain: ReturnType<typeof measure>[], echo: ReturnType<typeof measure>[] }} */
const runs = { plain: [], echo: [] };
for (let r = 0; r < repeats; r++) {
  runs.plain.push(measure(plain));
  runs.echo.push(measure(echo));
}
const best = (/** @type {ReturnType<typeof measure>[]} */ rs) => rs.reduce((a, b) => (b.cpu < a.cpu ? b : a));
for (const [name, rs] of Object.entries(runs))
  console.log(`${name} ${mode}: ${best(rs).cpu.toFixed(2)} CPU-ms ${JSON.stringify(best(rs).phases)}`);
console.log(`plain / echo CPU (best of ${repeats}): ${(best(runs.plain).cpu / best(runs.echo).cpu).toFixed(3)}`);
process.exit(0);
