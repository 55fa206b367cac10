import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { chromiumAvailable, launchChromium } from './support/browser.js';
import { repoRoot, screenshot } from './support/page.js';
import { serveStatic, type StaticServer } from './support/server.js';

interface CheckResult {
  kernel: string;
  label: string;
  maxError: number;
  tolerance: number;
  expectKernel: string;
  dispatched: string[];
  leakedTensors: number;
  pass: boolean;
}

const run = chromiumAvailable() || process.env.CI === 'true';

// Under CI the browser suites must run: a missing chromium is a failure, never a skip.
it.runIf(process.env.CI === 'true')('CI has chromium for the browser tests', () => {
  expect(chromiumAvailable(), 'install it: apt-get install -y --no-install-recommends chromium (.ci/run does)').toBe(
    true,
  );
});

describe.runIf(run)('WGSL kernels in headless chromium (SwiftShader WebGPU) vs the float64 reference', () => {
  let server: StaticServer;
  let browser: Browser;
  let page: Page;
  let results: CheckResult[] = [];

  beforeAll(async () => {
    server = await serveStatic({ '/': `${repoRoot}apps/playground/dist/` });
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(`${server.url}/kernels.html`);
    await page.waitForFunction(() => document.body.dataset.state !== 'starting', undefined, {
      timeout: 120_000,
      polling: 100,
    });
    const error = await page.evaluate(() => document.body.dataset.error ?? '');
    if (error) throw new Error(`kernels.html failed: ${error}`);
    results = JSON.parse((await page.evaluate(() => document.body.dataset.results)) ?? '[]') as CheckResult[];
    await screenshot(page, 'webgpu-kernels');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('covers RMSNorm, RoPE, attention over a KV cache and batched per-row LoRA', () => {
    expect(new Set(results.map((r) => r.kernel))).toEqual(
      new Set(['rmsNorm', 'applyRope', 'causalAttention', 'batchedLora']),
    );
  });

  it('each case is within its tolerance, dispatched to the WGSL kernel and frees its tensors', () => {
    for (const r of results) {
      expect(r.maxError, `${r.kernel} ${r.label}`).toBeLessThanOrEqual(r.tolerance);
      expect(r.expectKernel).toMatch(/^Recur\w+WebGpu$/);
      expect(r.dispatched, `${r.kernel} ${r.label}`).toContain(r.expectKernel);
      expect(r.leakedTensors, `${r.kernel} ${r.label}`).toBe(0);
    }
  });
});
