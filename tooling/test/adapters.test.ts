import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'recur-adapters-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  config: { method: string; target: string; sources: string[] };
  trainedParameters: number;
  perplexity: Record<string, number>;
}

/** `pnpm experiment:adapters --smoke`: the whole pipeline at a tiny budget, into a temporary folder. */
describe('experiment:adapters --smoke', () => {
  it('trains every method on stories260K and the subset on the recursive model, scores every domain, serves 1/2/4 adapters, and renders adapters.md from adapters.json', async () => {
    await promisify(execFile)('node', ['tooling/experiments/adapters.mjs', '--smoke'], {
      cwd: root,
      // the recursive base runs a subset here, so the doc's "skipped" path is checked too
      env: {
        ...process.env,
        ADAPTERS_OUT: dir,
        ADAPTERS_CACHE: join(dir, 'cache'),
        ADAPTERS_RECURSIVE_METHODS: 'scalearn,gated,full',
      },
    });
    const results = JSON.parse(readFileSync(join(dir, 'adapters.json'), 'utf8')) as {
      smoke: boolean;
      loras: Run[];
      targets: Record<string, Run[]>;
      serving: { runs: { adapters: number; tokensPerCpuSecond: number }[] };
      recursive: {
        run: boolean;
        skipped: string[];
        loras: Run[];
        targets: Record<string, Run[]>;
        layers: { fullDepth: number };
      };
    };
    expect(results.smoke).toBe(true);
    expect(results.loras.map((l) => l.config.target)).toEqual(['tinystories', 'shakespeare', 'wikitext']);
    const [[target, runs]] = Object.entries(results.targets) as [[string, Run[]]];
    expect(runs.map((r) => r.config.method)).toEqual([
      'lora',
      'scalearn',
      'scalearn-uniform',
      'scalearn-uniform-shared',
      'gated',
      'dvpt',
      'full',
    ]);
    for (const run of runs) {
      expect(Object.keys(run.perplexity).sort()).toEqual(['shakespeare', 'tinystories', 'wikitext']);
      expect(Object.values(run.perplexity).every((p) => Number.isFinite(p) && p > 1)).toBe(true);
    }
    // compositions combine the OTHER domains' adapters only
    for (const run of runs.filter((r) => r.config.sources.length > 0)) expect(run.config.sources).not.toContain(target);
    expect([...new Set(results.serving.runs.map((s) => s.adapters))]).toEqual([0, 1, 2, 4]);
    expect(results.serving.runs.every((s) => s.tokensPerCpuSecond > 0)).toBe(true);
    // the same grid (here own LoRA, ScaLearn, gated, full fine-tuning) on the uptrained recursive model
    const rec = results.recursive;
    expect(rec.run).toBe(true);
    expect(rec.loras.map((l) => l.config.target)).toEqual(['tinystories', 'shakespeare', 'wikitext']);
    const recRuns = rec.targets[target] ?? [];
    expect(recRuns.map((r) => r.config.method)).toEqual(['lora', 'scalearn', 'gated', 'full']);
    expect(rec.skipped).toEqual(['scalearn-uniform', 'scalearn-uniform-shared', 'dvpt']);
    for (const run of recRuns)
      expect(Object.values(run.perplexity).every((p) => Number.isFinite(p) && p > 1)).toBe(true);
    // a recursive LoRA is trained apart from the stories260K one of the same domain
    expect(rec.loras[0]?.perplexity).not.toEqual(results.loras[0]?.perplexity);
    const md = readFileSync(join(dir, 'adapters.md'), 'utf8');
    expect(md).toContain('smoke mode');
    expect(md).toContain('ScaLearnUniform++ (shared) over the other two');
    expect(md).toContain('## On the uptrained recursive model');
    expect(md).toContain('Skipped for the CPU budget');
    // re-rendering alone gives the same document
    await promisify(execFile)('node', ['tooling/experiments/adaptersReport.mjs', join(dir, 'adapters.json')], {
      cwd: root,
    });
    expect(readFileSync(join(dir, 'adapters.md'), 'utf8')).toBe(md);
  }, 480_000); // ≈ 21 CPU-seconds (both bases); the machine is shared, so wall time runs longer
});
