import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { torchPythonFor } from './support/torchPython.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'recur-sharing-torch-'));
const run = promisify(execFile);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** SHARING_PATH=pytorch trains through uptrain_recur.py: a python that imports torch (CI installs python3-torch). */
const python = torchPythonFor('experiment:sharing PyTorch smoke');

interface Row {
  mechanism: string;
  modelDir: string;
  perplexityAfter: number;
}

/** `SHARING_PATH=pytorch pnpm experiment:sharing --smoke` on stories260K, into a temporary folder. */
describe.skipIf(!python)('experiment:sharing --smoke, SHARING_PATH=pytorch', () => {
  it('trains every row with uptrain_recur.py in its stored form, reloads each in Recur and says so in the doc', async () => {
    await run('node', ['tooling/experiments/sharing.mjs', '--smoke'], {
      cwd: root,
      env: {
        ...process.env,
        SHARING_PATH: 'pytorch',
        SHARING_MODELS: 'stories260K',
        SHARING_OUT: dir,
        SHARING_CACHE: join(dir, 'cache'),
        RECUR_PYTHON: python,
      },
    });
    const results = JSON.parse(readFileSync(join(dir, 'sharing.json'), 'utf8')) as {
      models: { model: string; uptraining: { path: string }; rows: Row[] }[];
    };
    const [entry] = results.models;
    expect(entry?.uptraining.path).toBe('pytorch');
    expect(entry?.rows.map((r) => r.mechanism)).toEqual(
      expect.arrayContaining(['tied', 'mos', 'hyper', 'scaled', 'masa']),
    );
    for (const r of entry?.rows ?? []) {
      expect(Number.isFinite(r.perplexityAfter), r.mechanism).toBe(true);
      // each row's folder is the one uptrain_recur.py saved (its log beside it)
      expect(r.modelDir.endsWith('/trained'), r.modelDir).toBe(true);
      expect(existsSync(join(root, r.modelDir, '..', 'train.log'))).toBe(true);
    }
    const md = readFileSync(join(dir, 'sharing.md'), 'utf8');
    expect(md).toContain('Trained by **PyTorch** (`SHARING_PATH=pytorch`');
    expect(md).toContain('SHARING_PATH=pytorch SHARING_MODELS=stories260K');
  }, 600_000); // ≈ 12 PyTorch children of a few CPU-seconds each; the machine is shared, so wall time runs longer
});
