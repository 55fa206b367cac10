import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'recur-adaptation-'));
const names = ['inject', 'echo', 'dsd', 'intact', 'unix'];

afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Entry = { status: string; title?: string; result?: unknown; cached?: boolean };
type Doc = { smoke: boolean; commit: string; nproc: number; sections: Record<string, Entry> };

const run = (args: string[]) =>
  promisify(execFile)('node', ['tooling/experiments/adaptation.mjs', '--smoke', ...args], {
    cwd: root,
    env: { ...process.env, ADAPTATION_OUT: dir, ADAPTATION_CACHE: join(dir, 'cache') },
  });
const read = () => JSON.parse(readFileSync(join(dir, 'adaptation.json'), 'utf8')) as Doc;

/** `pnpm experiment:adaptation --smoke`: every section module that exists, at a tiny budget, into a temporary folder. */
describe('experiment:adaptation --smoke', () => {
  it('runs every present section, marks absent ones "not run", and renders adaptation.md from the json', async () => {
    await run([]);
    const doc = read();
    expect(doc).toMatchObject({ smoke: true, nproc: expect.any(Number) });
    expect(Object.keys(doc.sections)).toEqual(names);
    for (const name of names) {
      const present = existsSync(join(root, 'tooling/experiments/adaptation', `${name}.mjs`));
      expect(doc.sections[name]?.status, name).toBe(present ? 'ok' : 'not run');
    }
    const md = readFileSync(join(dir, 'adaptation.md'), 'utf8');
    expect(md).toContain('smoke mode');
    for (const name of names) expect(md).toContain(`(\`${name}\`)`);
  }, 600_000); // ≈ 60 CPU-seconds of CLI runs (mostly their start-up; trainings go side by side); under load it runs far longer

  it('assembles from cached results alone (--cached) and re-renders alone from the json', async () => {
    await expect(run(['--only', 'none-such'])).rejects.toThrow('not a section');
    await run(['--cached']);
    for (const entry of Object.values(read().sections)) if (entry.status === 'ok') expect(entry.cached).toBe(true);
    await promisify(execFile)('node', ['tooling/experiments/adaptationReport.mjs', dir], { cwd: root });
    expect(readFileSync(join(dir, 'adaptation.md'), 'utf8')).toContain('# Adaptation');
  }, 120_000);
});
