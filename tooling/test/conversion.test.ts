import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'recur-conversion-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface CurveRow {
  init: string;
  rank: number | 'full';
  exits: number[];
  energy: { residual: number; kept: number }[];
}

/** `pnpm experiment:conversion --smoke`: grid, rank curve and references at a tiny budget, into a temporary folder. */
describe('experiment:conversion --smoke', () => {
  it('writes rrt-conversion.json and renders rrt-conversion.md from it (re-render alone gives the same page)', async () => {
    const run = promisify(execFile);
    await run('node', ['tooling/experiments/conversion.mjs', '--smoke'], {
      cwd: root,
      env: { ...process.env, CONVERSION_OUT: dir },
    });
    const results = JSON.parse(readFileSync(join(dir, 'rrt-conversion.json'), 'utf8')) as {
      smoke: boolean;
      curve: { executed: number[]; references: { layers: number[]; perplexity: number }[]; rows: CurveRow[] };
    };
    expect(results.smoke).toBe(true);
    expect(results.curve.executed).toEqual([0, 1, 3, 4]);
    expect(results.curve.references.map((r) => r.layers)).toEqual([
      [0, 1, 4],
      [0, 1, 3, 4],
    ]);
    const [, full] = results.curve.references;
    for (const init of ['average', 'lower']) {
      const row = results.curve.rows.find((r) => r.init === init && r.rank === 'full')!;
      // full rank is the source restricted to the executed layers
      expect(row.exits.at(-1)! / full!.perplexity).toBeCloseTo(1, 4);
      for (const e of row.energy) expect(e.kept).toBeCloseTo(1, 6);
    }
    const lower8 = results.curve.rows.find((r) => r.init === 'lower' && r.rank === 8)!;
    expect(lower8.energy[0]!.residual).toBe(0); // Lower: loop 0 is source layer 1 itself
    const md = readFileSync(join(dir, 'rrt-conversion.md'), 'utf8');
    expect(md).toContain('smoke mode');
    expect(md).toContain('| [0, 1, 3, 4] (what full depth stands for) |');
    const written = statSync(join(dir, 'rrt-conversion.md')).mtimeMs;
    await run('node', ['tooling/experiments/conversionReport.mjs', dir], { cwd: root });
    expect(readFileSync(join(dir, 'rrt-conversion.md'), 'utf8')).toBe(md);
    expect(statSync(join(dir, 'rrt-conversion.md')).mtimeMs).toBeGreaterThanOrEqual(written);
  }, 240_000); // ≈ 15 CPU-seconds; the machine is shared, so wall time runs longer
});
