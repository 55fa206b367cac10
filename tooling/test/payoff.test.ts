import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { torchPythonFor } from './support/torchPython.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'recur-payoff-'));
const run = promisify(execFile);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The payoff's model is a PyTorch uptraining run: a python that imports torch (CI installs python3-torch). */
const python = torchPythonFor('experiment:payoff smoke');

/** An absolute path (a machine's folder) anywhere in a results file. */
const absolutePath = /(?:^|[\s`"'(“])\/[\w.-]+\//m;

/** `pnpm experiment:payoff --smoke`: the whole pipeline at a tiny budget, into a temporary folder. */
describe.skipIf(!python)('experiment:payoff --smoke', () => {
  it('runs end to end on a 2-step PyTorch uptraining run and writes payoff.json with the headline fields and payoff.md from it', async () => {
    await run('node', ['tooling/experiments/payoff.mjs', '--smoke'], {
      cwd: root,
      env: { ...process.env, PAYOFF_OUT: dir, PAYOFF_CACHE: join(dir, 'cache'), RECUR_PYTHON: python },
    });
    const results = JSON.parse(readFileSync(join(dir, 'payoff.json'), 'utf8')) as Record<string, unknown>;
    expect(results).toMatchObject({ smoke: true, model: expect.stringContaining('stories260K') });
    expect(typeof results.exitRule).toBe('string');
    for (const key of ['speedupTokensPerCpuSecond', 'perplexityRatio'])
      expect(Number.isFinite(results[key]) && (results[key] as number) > 0, key).toBe(true);
    // the model is experiment:uptraining's run of the paper's recipe, trained here (2 steps of 8 × 256)
    const uptraining = results.uptraining as Record<string, unknown>;
    expect(uptraining).toMatchObject({
      key: 'mc2-average-r8-seed0-tok4096-b8x256',
      cached: false,
      trainedTokens: 4096,
      steps: 2,
      training: { batch: 8, seq: 256, exitLoss: true },
      layers: { source: 5, fullDepth: 4, loop1: 3 },
    });
    expect(results.budget).toMatchObject({ tokens: 4096, requestedTokens: 4096 });
    // the compute bound at the headline's served depth: 5 layers over 3 to 4
    expect(results.depthBound as number).toBeGreaterThanOrEqual(5 / 4 - 1e-9);
    expect(results.depthBound as number).toBeLessThanOrEqual(5 / 3 + 1e-9);
    const served = results.served as { rule: string | null; tokensPerCpuSecond: number }[];
    expect(served.some((r) => r.rule === null)).toBe(true);
    expect(served.some((r) => r.rule === results.exitRule)).toBe(true);
    // the MoR rules: trained on the uptrained model, scored and served as the same configuration
    const curve = results.curve as { rule: string; kvMode: string; averageDepth: number }[];
    for (const rule of ['router:expert', 'router:token']) {
      const point = curve.find((p) => p.rule === rule);
      expect(point?.kvMode, rule).toBe('recursion-wise');
      expect(point!.averageDepth).toBeGreaterThanOrEqual(1);
      expect(point!.averageDepth).toBeLessThanOrEqual(2);
      expect(served.some((r) => r.rule === rule && r.tokensPerCpuSecond > 0)).toBe(true);
    }
    expect((results.routers as { kind: string }[]).map((r) => r.kind)).toEqual(['expert', 'token']);
    const md = readFileSync(join(dir, 'payoff.md'), 'utf8');
    expect(md).toContain('| router:token | recursion-wise |');
    expect(md).toContain('smoke mode');
    expect(md).toContain(`| ${results.exitRule as string} |`);
    expect(md).toContain('**Compute bound**');
    expect(md).not.toContain('undefined');
    expect(md).toContain('run `mc2-average-r8-seed0-tok4096-b8x256`');
    // results docs name no machine's folders (the caches, here in a temporary folder, relative to the repository)
    for (const text of [md, readFileSync(join(dir, 'payoff.json'), 'utf8')]) {
      expect(text).not.toContain(root);
      expect(text).not.toMatch(absolutePath);
    }
    // payoffReport.mjs alone renders the same page from payoff.json
    await run('node', ['tooling/experiments/payoffReport.mjs', dir], { cwd: root });
    expect(readFileSync(join(dir, 'payoff.md'), 'utf8')).toBe(md);
  }, 600_000); // ≈ 45 CPU-seconds (sample-corpus and PyTorch children included); on the shared machine wall time runs to minutes
});
