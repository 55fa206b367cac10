import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'recur-sharing-'));
const run = promisify(execFile);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An absolute path (a machine's folder) anywhere in a results doc. */
const absolutePath = /(?:^|[\s`"'(“])\/[\w.-]+\//m;

describe('sharing.md', () => {
  it("re-renders from the committed sharing.json without a machine's folders (convert's refusals name one)", async () => {
    const committed = join(dir, 'committed');
    mkdirSync(committed);
    writeFileSync(join(committed, 'sharing.json'), readFileSync(join(root, 'docs/results/sharing.json')));
    await run('node', ['tooling/experiments/sharingReport.mjs', committed], { cwd: root });
    const md = readFileSync(join(committed, 'sharing.md'), 'utf8');
    expect(md).toContain('**MASA and looping.** MASA over a looped model: refused: “--sharing masa');
    expect(md).not.toMatch(absolutePath);
  });
});

interface Row {
  mechanism: string;
  budget: number | null;
  uniqueParameters: number;
  bytesOnDisk: number;
  perplexityBefore: number;
  perplexityAfter: number;
  decodeTokensPerCpuSecond: number;
}

/** `pnpm experiment:sharing --smoke`: the whole pipeline at a tiny budget, into a temporary folder. */
describe('experiment:sharing --smoke', () => {
  it('trains every mechanism at both budgets on both models, writes sharing.json and renders sharing.md from it alone', async () => {
    await run('node', ['tooling/experiments/sharing.mjs', '--smoke'], {
      cwd: root,
      env: { ...process.env, SHARING_OUT: dir, SHARING_CACHE: join(dir, 'cache') },
    });
    const results = JSON.parse(readFileSync(join(dir, 'sharing.json'), 'utf8')) as {
      smoke: boolean;
      models: {
        model: string;
        smoke: boolean;
        budgets: number[];
        tied: { uniqueParameters: number };
        rows: Row[];
        masaLooped: { masaOfLooped: string | null; loopedOfMasa: string | null };
      }[];
    };
    expect(results.smoke).toBe(true);
    // both models by default: stories260K and Recur's default model, each with its own rows
    expect(results.models.map((m) => m.model)).toEqual(['stories260K', 'default']);
    for (const entry of results.models) {
      expect(entry.smoke).toBe(true);
      const mechanisms = ['lora', 'mos', 'hyper', 'scaled'];
      for (const budget of entry.budgets)
        for (const mechanism of mechanisms)
          expect(
            entry.rows.some((r) => r.mechanism === mechanism && r.budget === budget),
            `${entry.model} ${mechanism} ${budget}`,
          ).toBe(true);
      expect(entry.rows.map((r) => r.mechanism)).toEqual(expect.arrayContaining(['tied', 'masa']));
      for (const r of entry.rows) {
        for (const key of ['perplexityBefore', 'perplexityAfter', 'decodeTokensPerCpuSecond', 'bytesOnDisk'] as const)
          expect(Number.isFinite(r[key]) && r[key] > 0, `${entry.model} ${r.mechanism} ${key}`).toBe(true);
        // every adapter adds parameters to the tied model
        if (r.mechanism !== 'tied' && r.mechanism !== 'masa')
          expect(r.uniqueParameters).toBeGreaterThan(entry.tied.uniqueParameters);
      }
      // MASA and looping do not combine (convert refuses both ways round): the doc says so with convert's line
      expect(entry.masaLooped.masaOfLooped).toMatch(/masa/i);
      expect(entry.masaLooped.loopedOfMasa).toMatch(/MASA/);
      // without the model's folder: results name no machine's paths
      expect(entry.masaLooped.masaOfLooped).not.toContain(root);
    }
    const md = readFileSync(join(dir, 'sharing.md'), 'utf8');
    expect(md).toContain('Smoke mode');
    expect(md).toContain('### Readings for stories260K');
    expect(md).toContain('### Readings for default');
    expect(md).toContain('## Across models');
    expect(md).not.toMatch(absolutePath);
    // re-render alone from the json: the same document
    writeFileSync(join(dir, 'sharing.md'), '');
    await run('node', ['tooling/experiments/sharingReport.mjs', dir], { cwd: root });
    expect(readFileSync(join(dir, 'sharing.md'), 'utf8')).toBe(md);
    // the first invocation's flat, stories260K-only sharing.json still renders (its entry is kept by later runs)
    const legacy = join(dir, 'legacy');
    mkdirSync(legacy);
    const flat = { ...results.models[0], defaultModel: 'not run: …' };
    writeFileSync(join(legacy, 'sharing.json'), JSON.stringify(flat));
    await run('node', ['tooling/experiments/sharingReport.mjs', legacy], { cwd: root });
    const legacyMd = readFileSync(join(legacy, 'sharing.md'), 'utf8');
    expect(legacyMd).toContain('### Readings for stories260K');
    expect(legacyMd).not.toContain('not run');
    // --decode-only measures one model's decode again and keeps every other number and the other model as they were
    await run('node', ['tooling/experiments/sharing.mjs', '--smoke', '--decode-only'], {
      cwd: root,
      env: { ...process.env, SHARING_OUT: dir, SHARING_CACHE: join(dir, 'cache'), SHARING_MODELS: 'default' },
    });
    type Remeasured = (typeof results.models)[number] & { decode: { remeasured: { command: string } } };
    const again = JSON.parse(readFileSync(join(dir, 'sharing.json'), 'utf8')) as { models: Remeasured[] };
    expect(again.models[0]).toEqual(results.models[0]);
    const [before, after] = [results.models[1], again.models[1]] as [Remeasured, Remeasured];
    expect(after.decode.remeasured.command).toContain('--decode-only');
    expect(after.rows.map((r) => r.perplexityAfter)).toEqual(before.rows.map((r) => r.perplexityAfter));
    for (const r of after.rows) expect(r.decodeTokensPerCpuSecond).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'sharing.md'), 'utf8')).toContain('The decode columns were measured again');
  }, 480_000); // ≈ 30 CPU-seconds (two models); the machine is shared, so wall time runs longer
});
