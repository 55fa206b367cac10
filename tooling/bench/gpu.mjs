// pnpm bench:gpu — WebGPU in Node (Dawn, the npm package `webgpu`, with Recur's WGSL kernels) against
// the wasm fast path: stories260K (real weights) and the SmolLM-135M shape (random weights), batch-1
// prefill and cached decode, through `recur bench --json`. One short script for a GPU server; without
// a GPU it runs on chromium's SwiftShader (software Vulkan, ≈1 GFLOP/s) and labels the rows as such.
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { machineDescription, recordSection, recurJson, root } from './record.mjs';

const swiftShaderIcd = '/usr/lib/chromium/vk_swiftshader_icd.json';
// No Vulkan driver named or installed (no GPU): the software adapter, so the script still runs end to end.
if (
  !process.env.VK_ICD_FILENAMES &&
  !process.env.VK_DRIVER_FILES &&
  !hasSystemVulkanDriver() &&
  existsSync(swiftShaderIcd)
) {
  process.env.VK_ICD_FILENAMES = swiftShaderIcd;
}
const prefill = process.env.BENCH_PREFILL ?? '64';
const decode = process.env.BENCH_DECODE ?? '16';
const models = [
  {
    label: 'stories260K (real weights, GGUF)',
    args: ['--model', `${root}../shared/models/stories260K/stories260K.gguf`],
  },
  { label: 'SmolLM-135M shape (random weights)', args: ['--preset', 'smollm-135m'] },
];
const backends = [
  { label: 'WebGPU (tfjs + Recur WGSL)', args: ['--backend', 'webgpu'] },
  { label: 'wasm fast path', args: ['--backend', 'wasm'] },
];

/** @type {string[]} */
const rows = [];
let adapter = '';
for (const model of models) {
  for (const backend of backends) {
    const started = performance.now();
    const r = recurJson(['bench', ...model.args, ...backend.args, '--prefill', prefill, '--decode', decode]);
    adapter ||= r.adapter ?? '';
    const where = `${r.path} on ${r.backend}${r.adapter ? ` (${r.adapter})` : r.threads > 1 ? ` × ${r.threads} threads` : ''}`;
    console.log(
      `${model.label}, ${where}: prefill ${r.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${r.decodeTokensPerSecond.toFixed(1)} tok/s (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
    rows.push(
      `| ${model.label} | ${backend.label} | ${where} | ${r.prefillTokensPerSecond.toFixed(1)} | ${r.prefillGflops.toFixed(3)} | ${r.decodeTokensPerSecond.toFixed(1)} | ${r.decodeMsPerToken.toFixed(1)} |`,
    );
  }
}

const software = /swiftshader|llvmpipe|lavapipe/i.test(adapter);
recordSection(
  'gpu',
  `## WebGPU in Node against the wasm fast path (\`pnpm bench:gpu\`)

\`recur bench --json\`: batch 1, prefill ${prefill} tokens (best of 2 after a warm-up), then ${decode} cached decode steps with the
logits read back each step; WebGPU runs the tfjs decoder with Recur's WGSL kernels on Dawn's adapter **${adapter || 'unknown'}**.
Measured ${new Date().toISOString().slice(0, 10)} on ${machineDescription()}.

${
  software
    ? `**Software adapter, not GPU timings.** No GPU machine was lent when these were recorded (issue 20 §3), so WebGPU ran on
SwiftShader — Vulkan on the CPU — on a machine shared with other jobs (load ≈ ${(os.loadavg()[0] ?? 0).toFixed(0)} on ${os.cpus().length} cores at the end, which lowers the wasm rows too):
the rows show that the path runs end to end, not what a GPU does. On a GPU server (its Vulkan driver installed, or named by \`VK_ICD_FILENAMES\`) rerun \`pnpm bench:gpu\`
to replace them.`
    : 'Hardware adapter: these are GPU timings.'
}

| model | backend | path (adapter or threads) | prefill tok/s | prefill GFLOP/s | decode tok/s | decode ms/token |
| --- | --- | --- | ---: | ---: | ---: | ---: |
${rows.join('\n')}`,
);

/** Whether the Vulkan loader has a driver manifest in its system directories (a GPU's, or lavapipe's). */
function hasSystemVulkanDriver() {
  const dirs = [
    '/usr/share/vulkan/icd.d',
    '/etc/vulkan/icd.d',
    '/usr/local/share/vulkan/icd.d',
    '/usr/local/etc/vulkan/icd.d',
  ];
  return dirs.some((dir) => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.json')));
}
