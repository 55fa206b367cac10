import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tooling = join(root, 'tooling');

/** The project's scripts under `dir`; installed packages (e.g. bench:peer's tooling/bench/.peer/node_modules) are not ours. */
function scripts(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules') return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? scripts(path) : /\.[cm]?js$/.test(name) ? [relative(tooling, path)] : [];
  });
}

/** The .mjs scripts under tooling/ are type-checked like the packages' TypeScript (checkJs), by the root scripts. */
describe('tooling scripts are type-checked', () => {
  const config = JSON.parse(
    readFileSync(join(tooling, 'tsconfig.scripts.json'), 'utf8').replace(/^\s*\/\/.*$/gm, ''),
  ) as { extends: string; compilerOptions: Record<string, unknown>; include: string[] };

  it('tooling/tsconfig.scripts.json checks JavaScript with the base settings and emits nothing', () => {
    expect(config.extends).toBe('./tsconfig.base.json');
    expect(config.compilerOptions).toMatchObject({ allowJs: true, checkJs: true, noEmit: true });
    // no loosening
    expect(Object.keys(config.compilerOptions).filter((k) => /strict|noImplicit|noUnchecked/.test(k))).toEqual([]);
  });

  it('covers every script under tooling/', () => {
    expect(scripts(tooling).length).toBeGreaterThan(10);
    expect(config.include).toEqual(['**/*.mjs']);
    expect(scripts(tooling).filter((s) => !s.endsWith('.mjs'))).toEqual([]);
  });

  it.each(['typecheck', 'lint'])('the root `%s` script runs it', (name) => {
    const rootScripts = (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    expect(rootScripts[name]).toContain('tsc -p tooling/tsconfig.scripts.json');
  });
});
