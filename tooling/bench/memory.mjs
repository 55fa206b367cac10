// pnpm bench:memory — big models in bounded memory (issue 16 §5). Writes a random-weight GGUF in the
// Llama-3.2-1B shape (≈ 4.9 GB F32) into a temp folder with Recur's streamed writer, converts it
// (`recur convert`, streamed), runs 8 greedy tokens on the converted model (`recur generate`), and
// records each child process's peak RSS against the F32 weight bytes. Everything is deleted after.
// The plain 1B model itself cannot be generated from here: 4.94 GB of F32 weights exceed the 4 GiB
// heap of 32-bit wasm that both the fast path and tfjs-wasm compute in (see the section's note).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parameterCount } from '../../packages/graph/dist/index.js';
import { llama1bShape } from './memory/shape.mjs';
import { machineDescription, recordSection, root } from './record.mjs';

const cli = `${root}apps/cli/dist/recur.js`;
const preload = `${root}tooling/bench/memory/maxRss.mjs`;
const gib = 2 ** 30;
/** Convert settings of the row; BENCH_CONVERT overrides them (space-separated flags). */
const convertFlags = (
  process.env.BENCH_CONVERT ??
  '--loops 2 --strategy middle-cycle --init average --lora-rank-attn 8 --lora-rank-mlp 8 --lora-init zero'
).split(' ');

/**
 * The backend of the generate step (default cpu: the first run on wasm hit the signed-offset bug past a
 * 2 GiB heap, since fixed; BENCH_GENERATE_BACKEND=wasm runs the fast path).
 */
const generateBackend = process.env.BENCH_GENERATE_BACKEND ?? 'cpu';
const weightBytes = parameterCount(llama1bShape) * 4;
checkRoom();
const dir = mkdtempSync(join(os.tmpdir(), 'recur-bench-memory-'));
try {
  const source = join(dir, 'llama-1b-shape-random-f32.gguf');
  const write = measured('write', [`${root}tooling/bench/memory/writeModel.mjs`, source]);
  const out = join(dir, 'converted');
  const convert = measured('convert', [cli, 'convert', source, '--out', out, ...convertFlags, '--json']);
  const converted = convert.result;
  const convertedBytes = converted.bytes.converted;
  const generate = measured('generate', [
    cli,
    'generate',
    '--model',
    out,
    '--prompt',
    'Once upon a time',
    '--max-new-tokens',
    '8',
    '--temperature',
    '0',
    '--backend',
    generateBackend,
    '--json',
  ]);
  record({ write, convert, generate, convertedBytes, parameters: converted.parameters });
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Refuses to start without room: the files take ≈ 8.2 GB of disk, the children up to ≈ 7 GB of RAM. */
function checkRoom() {
  const available = memAvailable();
  const { bavail, bsize } = statfsSync(os.tmpdir());
  const disk = Number(bavail) * Number(bsize);
  console.log(
    `available: ${(available / gib).toFixed(1)} GiB RAM, ${(disk / gib).toFixed(1)} GiB disk in ${os.tmpdir()}`,
  );
  if (available < 10 * gib) throw new Error('bench:memory needs ≈ 10 GiB of available RAM; other work is using it');
  if (disk < 12 * gib) throw new Error(`bench:memory needs ≈ 12 GiB free in ${os.tmpdir()}`);
}

function memAvailable() {
  const line = readFileSync('/proc/meminfo', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('MemAvailable:'));
  return line ? Number(line.split(/\s+/)[1]) * 1024 : os.freemem();
}

/**
 * @typedef {{ result: any, peak: number, seconds: number, load: string }} Measured
 * Runs `node --import maxRss.mjs …args` and returns its JSON result, peak RSS, seconds and load average.
 * @param {string} name @param {readonly string[]} args @returns {Measured}
 */
function measured(name, args) {
  const rssFile = join(dir, `${name}.rss`);
  const load = os.loadavg()[0] ?? 0;
  const started = performance.now();
  const stdout = execFileSync(process.execPath, ['--import', preload, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, RECUR_MAX_RSS_FILE: rssFile },
    maxBuffer: 64 << 20,
  });
  const seconds = (performance.now() - started) / 1000;
  const peak = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? 'null');
  console.log(`${name}: peak RSS ${(peak / gib).toFixed(2)} GiB in ${seconds.toFixed(0)} s (load ${load.toFixed(1)})`);
  return { result, peak, seconds, load: `${load.toFixed(1)} → ${(os.loadavg()[0] ?? 0).toFixed(1)}` };
}

/**
 * @param {{ write: Measured, convert: Measured, generate: Measured, convertedBytes: number,
 *   parameters: { shared: number, lora: number } }} run
 */
function record({ write, convert, generate, convertedBytes, parameters }) {
  /** @param {number} n */
  const gb = (n) => `${(n / 1e9).toFixed(2)} GB`;
  /** @param {number} peak @param {number} bytes */
  const ratio = (peak, bytes) => `${(peak / bytes).toFixed(2)}×`;
  const convertedF32 = (parameters.shared + parameters.lora) * 4;
  /** @type {[string, Measured, number, string][]} */
  const rows = [
    ['write the source GGUF (streamed)', write, weightBytes, '—'],
    [`\`recur convert\` ${convertFlags.join(' ')}`, convert, weightBytes, '< 1.5×'],
    ['`recur generate` on the converted model: load + 8 greedy tokens', generate, convertedF32, '< 2×'],
  ];
  const table = rows
    .map(
      ([what, m, bytes, goal]) =>
        `| ${what} | ${gb(m.peak)} | ${gb(bytes)} | ${ratio(m.peak, bytes)} | ${goal} | ${m.seconds.toFixed(0)} s | ${m.load} |`,
    )
    .join('\n');
  const tokens = generate.result?.ids?.length ?? 0;
  recordSection(
    'memory',
    `## Big models in bounded memory (\`pnpm bench:memory\`)

${machineDescription()} · ${new Date().toISOString().slice(0, 10)}

A random-weight GGUF in the Llama-3.2-1B shape (16 layers, d 2048, 32/8 heads, FFN 8192, vocab
128256, tied; ${parameterCount(llama1bShape).toLocaleString('en-US')} parameters = ${gb(weightBytes)} F32,
written by the benchmark with Recur's streamed GGUF writer and deleted after). Peak RSS is each child
process's \`ru_maxrss\`; the ratio divides it by the F32 weight bytes of the model the step reads.
The converted model (${gb(convertedF32)} F32, model.safetensors ${gb(convertedBytes)}) ran ${tokens} greedy
tokens on the ${generate.result?.path ?? '?'} path (\`--backend ${generateBackend}\`).

| step | peak RSS | F32 weights | ratio | goal | time | load avg (1 min, before → after) |
|---|---:|---:|---:|---:|---:|---|
${table}

The plain 1B model is not generated from: its ${gb(weightBytes)} of F32 weights do not fit the 4 GiB
heap of 32-bit wasm (tfjs-backend-wasm and the fused kernels compute in it), so the load + generate row
runs the converted model it was turned into. The convert row initialises LoRA with \`--lora-init zero\`:
exact SVD of this shape's 2048-wide matrices (98 of them) is too slow on this machine.`,
  );
}
