// pnpm bench:forward — batch-1 prefill and decode speed on the wasm backend, recorded in docs/benchmarks.md;
// each model also with an EchoAtt plan (arXiv 2409.14595: those steps reuse an earlier step's attention maps),
// the two runs interleaved (A, B, A, B) so machine load hits both alike.
import { loadAverage, machineDescription, recordSection, recurJson, root } from './record.mjs';

const stories = `${root}../shared/models/stories260K/stories260K.gguf`;
/** SmolLM-135M's 30 layers: every odd inner step (3, 5, …, 27) reuses the step before it — 13 of 30. */
const smolPlan = Array.from({ length: 13 }, (_, i) => `${3 + 2 * i}<-${2 + 2 * i}`).join(',');
const cases = [
  { label: 'stories260K (real weights, GGUF)', args: ['--model', stories], echo: '3<-2,4<-2' },
  { label: 'SmolLM-135M shape (random weights)', args: ['--preset', 'smollm-135m'], echo: smolPlan },
];
const prefill = process.env.BENCH_PREFILL ?? '256';
const decode = process.env.BENCH_DECODE ?? '64';
const repeats = Number(process.env.BENCH_REPEATS ?? '2');
const threads = process.env.BENCH_THREADS;
const before = loadAverage();

const fields = [
  'prefillTokensPerSecond',
  'prefillGflops',
  'decodeTokensPerSecond',
  'decodeMsPerToken',
  'prefillTokensPerCpuSecond',
  'decodeTokensPerCpuSecond',
];
/** Field-wise mean of the interleaved runs. @param {any[]} runs */
const mean = (runs) => ({
  ...runs[0],
  ...Object.fromEntries(
    fields.map((f) => [f, runs.reduce((/** @type {number} */ sum, r) => sum + r[f], 0) / runs.length]),
  ),
});

const rows = cases.flatMap(({ label, args, echo }) => {
  /** @type {{ plain: any[], echo: any[] }} */
  const runs = { plain: [], echo: [] };
  for (let r = 0; r < repeats; r++)
    for (const kind of /** @type {const} */ (['plain', 'echo'])) {
      const extra = [
        ...(kind === 'echo' ? ['--echo-attention', echo] : []),
        ...(threads ? ['--threads', threads] : []),
      ];
      runs[kind].push(
        recurJson(['bench', ...args, '--backend', 'wasm', '--prefill', prefill, '--decode', decode, ...extra]),
      );
    }
  const [plain, reused] = [mean(runs.plain), mean(runs.echo)];
  return [
    [label, '—', plain],
    [label, `EchoAtt \`${echo}\``, reused],
  ].map(([model, plan, r]) => {
    console.log(
      `${model} ${plan}: prefill ${r.prefillTokensPerSecond.toFixed(1)} tok/s (${r.prefillTokensPerCpuSecond.toFixed(1)}/CPU-s), decode ${r.decodeTokensPerSecond.toFixed(1)} tok/s (${r.decodeTokensPerCpuSecond.toFixed(1)}/CPU-s)`,
    );
    return `| ${model} | ${plan} | ${r.parameters.toLocaleString('en-US')} | ${r.backend} × ${r.threads} | ${r.prefillTokensPerSecond.toFixed(1)} | ${r.prefillTokensPerCpuSecond.toFixed(1)} | ${r.prefillGflops.toFixed(2)} | ${r.decodeTokensPerSecond.toFixed(1)} | ${r.decodeTokensPerCpuSecond.toFixed(1)} | ${r.decodeMsPerToken.toFixed(2)} |`;
  });
});

recordSection(
  'forward',
  `## Forward pass (\`pnpm bench:forward\`)

Batch 1, prefill ${prefill} tokens (best of 2 after a warm-up, logits of the last row), then ${decode} cached decode steps
with the logits read back each step; each model without and with an EchoAtt plan (\`recur bench --echo-attention\`:
the listed steps reuse an earlier step's attention maps on the fast path — no q/k, scores or softmax), the two
interleaved ${repeats}× (A, B, A, B) and averaged. Tokens per CPU-second (the process's CPU time, all threads) hold
under other load where wall-clock tok/s do not; GFLOP/s count the model without reuse. Measured
${new Date().toISOString().slice(0, 10)} on ${machineDescription()}; load average (1/5/15 min) ${before} before,
${loadAverage()} after.

| model | attention reuse | parameters | backend | prefill tok/s | prefill tok/CPU-s | prefill GFLOP/s | decode tok/s | decode tok/CPU-s | decode ms/token |
| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}`,
);
