import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'recur-inject-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The assembler's ctx.recur: `recur ARGS --json`, parsed; throws with stderr on a non-zero exit. */
function recur(args: readonly string[]): unknown {
  try {
    const cli = join(root, 'apps/cli/dist/recur.js');
    return JSON.parse(execFileSync(process.execPath, [cli, ...args, '--json'], { encoding: 'utf8', stdio: 'pipe' }));
  } catch (error) {
    throw new Error(`recur ${args.join(' ')}: ${(error as { stderr?: string }).stderr ?? String(error)}`);
  }
}

type Row = { method: string; skipped?: string; trainableParameters: number; layers: number[] | 'all' };
type Source = { label: string; rows: Row[]; before: { diagnosis: { layers: unknown[] } } };

/** Section `inject` of experiment:adaptation in smoke mode: the short source, its four adaptations, rendered. */
describe('adaptation section inject (smoke)', () => {
  it('runs end to end and renders a table row per method with readings', async () => {
    const section = (await import('../experiments/adaptation/inject.mjs')) as {
      name: string;
      title: string;
      run(ctx: object): Promise<{ numLayers: number; sources: Source[] }>;
      render(result: unknown): string;
    };
    expect(section.name).toBe('inject');
    const result = await section.run({ root, cacheDir: dir, seed: 0, smoke: true, log: () => {}, recur });
    expect(result.sources.map((s) => s.label)).toEqual(['short']);
    const [source] = result.sources;
    expect(source!.before.diagnosis.layers).toHaveLength(result.numLayers);
    const methods = source!.rows.map((r) => r.method);
    expect(methods[0]).toBe('inflection');
    // when the strict rule flags nothing, the ranked fallback (auto:K, K = the top row's count) comes next
    const flagged = !source!.rows[0]!.skipped;
    const offset = flagged ? 1 : 2;
    if (!flagged) expect(methods[1]).toMatch(/^ranked-\d$/);
    expect(methods.slice(offset, offset + 1)).toEqual(['all']);
    expect(methods[offset + 1]).toMatch(/^top-\d$/);
    expect(methods[offset + 2]).toBe('full');
    expect(methods).toHaveLength(offset + 3);
    const all = source!.rows[offset]!;
    const top = source!.rows[offset + 1]!;
    expect(all.layers).toEqual(Array.from({ length: result.numLayers }, (_, i) => i));
    expect(top.trainableParameters).toBeLessThan(all.trainableParameters); // fewer layers, fewer factors
    expect(source!.rows[offset + 2]!.layers).toBe('all');
    if (!flagged) expect(source!.rows[1]!.trainableParameters).toBe(top.trainableParameters); // same K, same count
    const md = section.render(JSON.parse(JSON.stringify(result)));
    for (const method of methods) expect(md).toContain(`| ${method} |`);
    expect(md).toContain('### Readings');
    expect(md).toMatch(/least forgetting/);
    expect(md).toMatch(/Training cost: \d+ CPU-s/);
  }, 900_000); // ≈ 50 CPU-seconds of CLI runs; the machine is shared, so wall time runs longer
});
