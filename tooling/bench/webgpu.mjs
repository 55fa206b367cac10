// pnpm bench:webgpu — the forward benchmark (engine.benchmarkForward) inside headless chromium: WebGPU
// with Recur's WGSL kernels, WebGPU with tfjs's own ops only, and the wasm fallback, on stories260K.
// Recorded in docs/benchmarks.md. Here WebGPU is SwiftShader (a CPU adapter): the numbers show the
// path works and how the kernels change the op count, not GPU speed.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { machineDescription, recordSection, root } from './record.mjs';

const require = createRequire(`${root}apps/playground/package.json`);
const { chromium } = require('playwright-core');
const chromiumPath = process.env.RECUR_CHROMIUM ?? '/usr/bin/chromium';
const prefill = Number(process.env.BENCH_PREFILL ?? 64);
const decode = Number(process.env.BENCH_DECODE ?? 32);
const model = '/shared/models/stories260K/stories260K.gguf';
const cases = [
  { label: 'WebGPU, Recur WGSL kernels', query: 'backend=webgpu&kernels=on' },
  { label: 'WebGPU, tfjs ops only', query: 'backend=webgpu&kernels=off' },
  { label: 'wasm (browser fallback)', query: 'backend=wasm' },
];

const dist = `${root}apps/playground/dist/`;
if (!existsSync(`${dist}bench.html`)) throw new Error(`${dist} is not built (turbo run build builds it)`);
if (!existsSync(chromiumPath))
  throw new Error(`no chromium at ${chromiumPath}: apt-get install -y --no-install-recommends chromium`);

const server = await serve({ '/': dist, '/shared/': `${root}../shared/` });
const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: [
    '--headless=new',
    '--no-sandbox',
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
    '--use-angle=swiftshader',
    '--disable-gpu-sandbox',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
/** @type {string[]} */
const rows = [];
let adapter = '';
try {
  for (const c of cases) {
    const page = await browser.newPage();
    await page.goto(
      `${server.url}/bench.html?${c.query}&model=${encodeURIComponent(model)}&prefill=${prefill}&decode=${decode}`,
    );
    await page.waitForFunction(
      () => document.body.dataset.state === 'done' || document.body.dataset.state === 'failed',
      undefined,
      { timeout: 600_000, polling: 200 },
    );
    const state = await page.evaluate(() => document.body.dataset.state);
    if (state !== 'done') throw new Error(`${c.label}: ${await page.textContent('#result')}`);
    const r = JSON.parse(/** @type {string} */ (await page.evaluate(() => document.body.dataset.result)));
    adapter ||= r.adapter ?? '';
    console.log(
      `${c.label}: prefill ${r.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${r.decodeTokensPerSecond.toFixed(1)} tok/s (${r.decodeMsPerToken.toFixed(1)} ms/token)`,
    );
    rows.push(
      `| ${c.label} | ${r.backend} | ${r.prefillTokensPerSecond.toFixed(1)} | ${r.prefillGflops.toFixed(3)} | ${r.decodeTokensPerSecond.toFixed(1)} | ${r.decodeMsPerToken.toFixed(1)} |`,
    );
    await page.close();
  }
} finally {
  await browser.close();
  server.close();
}

recordSection(
  'webgpu',
  `## Forward pass in the browser (\`pnpm bench:webgpu\`)

stories260K (real weights, GGUF) in headless Debian chromium ${browser.version?.() ?? ''}, driven by playwright-core: batch 1, prefill ${prefill}
tokens (best of 2 after a warm-up), then ${decode} cached decode steps with the logits read back each step
(\`engine.benchmarkForward\` on the tfjs decoder). Measured ${new Date().toISOString().slice(0, 10)} on ${machineDescription()}.

${adapterNote(adapter)}

| case | backend | prefill tok/s | prefill GFLOP/s | decode tok/s | decode ms/token |
| --- | --- | ---: | ---: | ---: | ---: |
${rows.join('\n')}`,
);

/** @param {Record<string, string>} mounts @returns {Promise<{ url: string, close: () => void }>} */
function serve(mounts) {
  const table = Object.entries(mounts)
    .sort((a, b) => b[0].length - a[0].length)
    .map(([p, d]) => /** @type {const} */ ([p, resolve(d)]));
  /** @type {Record<string, string>} */
  const types = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.css': 'text/css',
    '.wasm': 'application/wasm',
    '.json': 'application/json',
  };
  const http = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const mount = table.find(([p]) => path.startsWith(p));
    const file = mount && normalize(join(mount[1], path.slice(mount[0].length)));
    if (!mount || !file?.startsWith(mount[1] + sep) || !existsSync(file) || statSync(file).isDirectory())
      return res.writeHead(404).end();
    res.writeHead(200, {
      'Content-Type': types[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((done) =>
    http.listen(0, '127.0.0.1', () =>
      done({
        url: `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (http.address()).port}`,
        close: () => http.close(),
      }),
    ),
  );
}

/** @param {string} adapter */
function adapterNote(adapter) {
  if (adapter !== 'SwiftShader (CPU)')
    return `WebGPU ran on a hardware adapter (${adapter || 'as chromium offered it'}).`;
  return `**No GPU machine was lent to this task:** WebGPU here is chromium's SwiftShader adapter, which runs
the shaders on the CPU at about 1 GFLOP/s. These rows show that the WebGPU path runs and what the fused kernels save
in dispatches; they say nothing about speed on a real GPU. On SwiftShader the page pins tfjs's tiled matmul program
(its barrier-based small-output programs took ≈2 s per decode step there).`;
}
