import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(root, path), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
};
const biome = join(root, 'node_modules/.bin/biome');

/** One pass of Biome's formatter over `source`, as `pnpm format` runs it (the repo's biome.jsonc). */
function formatOnce(source: string, file: string): string {
  return execFileSync(biome, ['format', `--stdin-file-path=${file}`], { cwd: root, input: source, encoding: 'utf8' });
}

/** `pnpm lint` is a real linter and formatter check (Biome), then the type-checks; CI runs it before the tests. */
describe('pnpm lint and pnpm format', () => {
  it('pins Biome to one exact version, so every machine formats alike', () => {
    expect(pkg.devDependencies['@biomejs/biome']).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('lint = biome check (warnings fail) + the workspace and tooling type-checks', () => {
    expect(pkg.scripts.lint).toBe(
      'biome check --error-on-warnings . && turbo run typecheck && tsc -p tooling/tsconfig.scripts.json',
    );
  });

  it('.ci/run lints after the install and before the tests', () => {
    const steps = read('.ci/run')
      .split('\n')
      .filter((line) => line.startsWith('npx -y pnpm@'));
    expect(steps.map((line) => line.split(' ').slice(3).join(' '))).toEqual([
      'install --frozen-lockfile',
      'lint',
      'test',
      'test:pack',
    ]);
  });

  it('every rule switched off in biome.jsonc has a reason on the line above', () => {
    const lines = read('biome.jsonc').split('\n');
    const off = lines.flatMap((line, i) => (/"off"|"checkForEach": false/.test(line) ? [i] : []));
    expect(off.length).toBeGreaterThan(0);
    for (const i of off) expect(lines[i - 1], lines[i]).toMatch(/^\s*\/\/ \S/);
  });

  // One formatter pass is not always a fixed point (biomejs/biome#10531): `pnpm format` runs two.
  it('format runs the formatter twice, and two passes are a fixed point on a chain Biome reformats twice', () => {
    expect(pkg.scripts.format).toBe('biome format --write . && biome format --write .');
    const chain = [
      'export const t = tf.tidy(() => tf.engine().runKernel(ROPE, { x,',
      '  cos: tf.tensor2d(cos, [positions.length, half]),',
      '  sin: tf.tensor2d(sin, [positions.length, half]) }) as tf.Tensor3D);',
      '',
    ].join('\n');
    const twice = formatOnce(formatOnce(chain, 'chain.ts'), 'chain.ts');
    expect(formatOnce(twice, 'chain.ts')).toBe(twice);
  });
});
