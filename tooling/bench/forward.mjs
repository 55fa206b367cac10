// pnpm bench:forward — batch-1 prefill and decode speed on the wasm backend, recorded in docs/benchmarks.md.
import { machineDescription, recordSection, recurJson, root } from './record.mjs';

const stories = `${root}../shared/models/stories260K/stories260K.gguf`;
const cases = [
  { label: 'stories260K (real weights, GGUF)', args: ['--model', stories] },
  { label: 'SmolLM-135M shape (random weights)', args: ['--preset', 'smollm-135m'] },
];
const prefill = process.env.BENCH_PREFILL ?? '256';
const decode = process.env.BENCH_DECODE ?? '64';

const rows = cases.map(({ label, args }) => {
  const r = recurJson(['bench', ...args, '--backend', 'wasm', '--prefill', prefill, '--decode', decode]);
  console.log(
    `${label}: prefill ${r.prefillTokensPerSecond.toFixed(1)} tok/s (${r.prefillGflops.toFixed(2)} GFLOP/s), decode ${r.decodeTokensPerSecond.toFixed(1)} tok/s`,
  );
  return `| ${label} | ${r.parameters.toLocaleString('en-US')} | ${r.backend} | ${r.prefillTokensPerSecond.toFixed(1)} | ${r.prefillGflops.toFixed(2)} | ${r.decodeTokensPerSecond.toFixed(1)} | ${r.decodeMsPerToken.toFixed(2)} |`;
});

recordSection(
  'forward',
  `## Forward pass (\`pnpm bench:forward\`)

Batch 1, prefill ${prefill} tokens (best of 2 after a warm-up, logits of the last row), then ${decode} cached decode steps
with the logits read back each step. Measured ${new Date().toISOString().slice(0, 10)} on ${machineDescription()}.

| model | parameters | backend | prefill tok/s | prefill GFLOP/s | decode tok/s | decode ms/token |
| --- | ---: | --- | ---: | ---: | ---: | ---: |
${rows.join('\n')}`,
);
