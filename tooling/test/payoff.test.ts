import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'recur-payoff-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `pnpm experiment:payoff --smoke`: the whole pipeline at a tiny budget, into a temporary folder. */
describe('experiment:payoff --smoke', () => {
  it('runs end to end and writes payoff.json with the headline fields and payoff.md from it', async () => {
    await promisify(execFile)('node', ['tooling/experiments/payoff.mjs', '--smoke'], {
      cwd: root,
      env: { ...process.env, PAYOFF_OUT: dir, PAYOFF_CACHE: join(dir, 'cache') },
    });
    const results = JSON.parse(readFileSync(join(dir, 'payoff.json'), 'utf8')) as Record<string, unknown>;
    expect(results).toMatchObject({ smoke: true, model: expect.stringContaining('stories260K') });
    expect(typeof results.exitRule).toBe('string');
    for (const key of ['speedupTokensPerCpuSecond', 'perplexityRatio'])
      expect(Number.isFinite(results[key]) && (results[key] as number) > 0, key).toBe(true);
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
  }, 600_000); // ≈ 30 CPU-seconds; on the shared machine (load ≈ 30) wall time runs to minutes
});
