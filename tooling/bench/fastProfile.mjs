// node tooling/bench/fastProfile.mjs — where a FastDecoder decode step spends its time: SmolLM-135M
// shape (random fp32 weights), 256-token context, per phase in ms per step at 1 and 2 threads, and
// the GB/s the linears reach. Each thread count runs in its own process (fixed when wasm starts);
// the table goes to docs/benchmarks.md (section fast-profile).
import { execFileSync } from 'node:child_process';
import { machineDescription, recordSection } from './record.mjs';

/** @type {Record<string, number>} */
const WEIGHT_BYTES = {
  qkv: 30 * (576 * 576 + 2 * 192 * 576) * 4,
  oProj: 30 * 576 * 576 * 4,
  gateUp: 30 * 2 * 1536 * 576 * 4,
  down: 30 * 1536 * 576 * 4,
  head: 49152 * 576 * 4,
};

/** @param {number} threads @param {number} batch @param {string} [mode] */
async function child(threads, batch, mode = 'decode') {
  const { initBackend } = await import('../../packages/tensor/dist/index.js');
  const { FastDecoder, randomDecoder } = await import('../../packages/graph/dist/index.js');
  const { modelPresets } = await import('../../packages/engine/dist/index.js');
  await initBackend({ backend: 'wasm', threads });
  const config = /** @type {NonNullable<(typeof modelPresets)[string]>} */ (modelPresets['smollm-135m']);
  const decoder = randomDecoder(config, { seed: 1 });
  const fast = /** @type {import('../../packages/graph/dist/index.js').FastDecoder} */ (
    await FastDecoder.create(config, decoder.weights)
  ); // a plain Llama always has one
  const ids = Array.from({ length: 256 }, (_, i) => 3 + ((i * 7919 + 13) % 200));
  if (mode === 'prefill') {
    let best;
    for (let rep = 0; rep < 4; rep++) {
      const cache = fast.newCache(256);
      fast.profile.reset();
      fast.profile.enabled = rep > 0;
      const start = performance.now();
      fast.forward(ids, { cache, lastOnly: true });
      const ms = performance.now() - start;
      cache.dispose();
      const phases = Object.fromEntries([...fast.profile.ms]);
      if (rep > 0 && (!best || ms < best.ms)) best = { ms, phases };
    }
    process.stdout.write(`${JSON.stringify(best)}\n`);
    process.exit(0);
  }
  const caches = Array.from({ length: batch }, () => fast.newCache(256 + 64));
  for (const cache of caches) fast.forward(ids, { cache, lastOnly: true });
  const step = (/** @type {number} */ s) =>
    fast.forwardBatch(
      caches.map((cache, b) => ({ cache, ids: [(s * 7 + b) % 200] })),
      { lastOnly: true },
    );
  for (let s = 0; s < 8; s++) step(s);
  let best;
  for (let rep = 0; rep < 3; rep++) {
    fast.profile.reset();
    fast.profile.enabled = true;
    const start = performance.now();
    for (let s = 0; s < 16; s++) step(s);
    const ms = (performance.now() - start) / 16;
    const phases = Object.fromEntries([...fast.profile.ms].map(([k, v]) => [k, v / fast.profile.calls]));
    if (!best || ms < best.ms) best = { ms, phases };
  }
  process.stdout.write(`${JSON.stringify(best)}\n`);
  process.exit(0);
}

if (process.argv[2] === 'child') {
  await child(Number(process.argv[3]), Number(process.argv[4]), process.argv[5]);
} else if (process.argv[2] === 'prefill') {
  // Prefill of 256 tokens (one sequence, logits of the last row): ms and GFLOP/s per phase.
  const T = 256;
  const L = 30;
  // Past its K/V write the last layer runs only the row whose logits are read.
  const rowsPast = (L - 1) * T + 1;
  const attnFlops = 2 * 2 * 9 * 64 * ((L - 1) * ((T * (T + 1)) / 2) + T);
  /** @type {Record<string, number>} */
  const FLOPS = {
    qkv: 2 * T * L * 576 * 960,
    oProj: 2 * rowsPast * 576 * 576,
    gateUp: 2 * rowsPast * 2 * 1536 * 576,
    down: 2 * rowsPast * 1536 * 576,
    head: 2 * 49152 * 576,
    attention: attnFlops,
  };
  const threadList = (process.env.PROFILE_THREADS ?? '1,2').split(',').map(Number);
  const results = threadList.map((threads) => ({
    threads,
    ...JSON.parse(
      execFileSync(process.execPath, [new URL(import.meta.url).pathname, 'child', String(threads), '1', 'prefill'], {
        encoding: 'utf8',
      })
        .trim()
        .split('\n')
        .at(-1) ?? '',
    ),
  }));
  const phases = ['embed', 'norm', 'qkv', 'rope', 'attention', 'oProj', 'gateUp', 'silu', 'down', 'head'];
  /** @param {{ phases: Record<string, number> }} r @param {string} p */
  const cell = (r, p) => {
    const ms = r.phases[p] ?? 0;
    return `${ms.toFixed(1)}${FLOPS[p] ? ` (${(FLOPS[p] / ms / 1e6).toFixed(1)} GFLOP/s)` : ''}`;
  };
  const header = results.map((r) => `${r.threads} thread${r.threads > 1 ? 's' : ''}`);
  const rows = phases.map((p) => `| ${p} | ${results.map((r) => cell(r, p)).join(' | ')} |`);
  const total = `| **prefill ${T}** | ${results.map((r) => `**${r.ms.toFixed(0)}** (${((1000 * T) / r.ms).toFixed(1)} tok/s)`).join(' | ')} |`;
  const table = [
    `| phase (ms per ${T}-token prefill) | ${header.join(' | ')} |`,
    `| --- | ${header.map(() => '---:').join(' | ')} |`,
    ...rows,
    total,
  ].join('\n');
  console.log(table);
  if (process.env.PROFILE_RECORD !== '0')
    recordSection(
      'fast-prefill-profile',
      `## Fast path prefill: where 256 tokens go (\`node tooling/bench/fastProfile.mjs prefill\`)

FastDecoder on the SmolLM-135M shape (random fp32 weights), one 256-token prompt, logits of the last row; best of 3
after a warm-up; ms per phase and the GFLOP/s of the phases with matmuls (attention counts QKᵀ and PV).
Measured ${new Date().toISOString().slice(0, 10)} on ${machineDescription()}; the machine is shared, so expect ±10%.

${table}`,
    );
} else {
  const runs = [
    [1, 1],
    [2, 1],
    [2, 8],
  ];
  const results = runs.map(([threads, batch]) => ({
    threads,
    batch,
    ...JSON.parse(
      execFileSync(process.execPath, [new URL(import.meta.url).pathname, 'child', String(threads), String(batch)], {
        encoding: 'utf8',
      })
        .trim()
        .split('\n')
        .at(-1) ?? '',
    ),
  }));
  const phases = ['embed', 'norm', 'qkv', 'rope', 'attention', 'oProj', 'gateUp', 'silu', 'down', 'head'];
  /** @param {{ phases: Record<string, number> }} r @param {string} p */
  const cell = (r, p) => {
    const ms = r.phases[p] ?? 0;
    const gbs = WEIGHT_BYTES[p] ? ` (${(WEIGHT_BYTES[p] / ms / 1e6).toFixed(1)} GB/s)` : '';
    return `${ms.toFixed(2)}${gbs}`;
  };
  const header = results.map((r) => `${r.threads} thread${r.threads > 1 ? 's' : ''}, batch ${r.batch}`);
  const rows = phases.map((p) => `| ${p} | ${results.map((r) => cell(r, p)).join(' | ')} |`);
  const total = `| **step** | ${results.map((r) => `**${r.ms.toFixed(2)}** (${((1000 * r.batch) / r.ms).toFixed(1)} tok/s)`).join(' | ')} |`;
  const table = [
    `| phase (ms per decode step) | ${header.join(' | ')} |`,
    `| --- | ${header.map(() => '---:').join(' | ')} |`,
    ...rows,
    total,
  ].join('\n');
  console.log(table);
  recordSection(
    'fast-profile',
    `## Fast decode path: where a step goes (\`node tooling/bench/fastProfile.mjs\`)

FastDecoder on the SmolLM-135M shape (random fp32 weights, 0.54 GB read per step), 256 tokens of context,
16 decode steps after a warm-up, best of 3; ms per step per phase (the phases with weights also show the
GB/s their weight reads reach; at batch 8 they read each weight once for all 8 rows).
Measured ${new Date().toISOString().slice(0, 10)} on ${machineDescription()}; the machine is shared, so expect ±10%.

${table}`,
  );
}
