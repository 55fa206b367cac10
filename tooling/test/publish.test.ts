import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  engineExample,
  idsFromOutput,
  manifestProblems,
  README_MODEL_LITERAL,
  tokenDifference,
} from '../pack/packChecks.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface ExportEntry {
  source?: string;
  types?: string;
  import?: string;
}
interface Manifest {
  name: string;
  version?: string;
  private?: boolean;
  description?: string;
  license?: string;
  repository?: { type?: string; url?: string; directory?: string };
  engines?: { node?: string };
  main?: string;
  types?: string;
  exports?: Record<string, ExportEntry>;
  files?: string[];
  bin?: Record<string, string>;
  publishConfig?: { access?: string; exports?: Record<string, ExportEntry> };
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

const read = (path: string) => readFileSync(join(root, path), 'utf8');
const manifestOf = (dir: string) => JSON.parse(read(`${dir}/package.json`)) as Manifest;
const workspaceDirs = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group))
    .map((d) => `${group}/${d}`)
    .filter((d) => existsSync(join(root, d, 'package.json'))),
);
// The playground is a Vite app deployed as static files (apps/playground/README.md), not an npm package.
const privateDirs = ['apps/playground'];
const publicDirs = workspaceDirs.filter((d) => !privateDirs.includes(d));
const rootManifest = manifestOf('.');

/** The entry names a package's tsup.config.ts builds (`{ index: 'src/index.ts', node: … }` → index, node). */
function tsupEntries(dir: string): string[] {
  return [...read(`${dir}/tsup.config.ts`).matchAll(/(\w+): 'src\/[\w/.]+\.ts'/g)].map((m) => m[1]!);
}

describe('every @recur package is publishable as it stands (pnpm test:pack installs them)', () => {
  it('only the workspace root and the playground are private', () => {
    expect(rootManifest.private).toBe(true);
    expect(workspaceDirs.filter((d) => manifestOf(d).private === true)).toEqual(privateDirs);
    expect(publicDirs.length).toBeGreaterThanOrEqual(9);
  });

  it.each(publicDirs)('%s has the publish fields', (dir) => {
    const pkg = manifestOf(dir);
    expect(pkg.name).toMatch(/^@recur\/[a-z]+$/);
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.description?.length ?? 0).toBeGreaterThan(20);
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository).toEqual({ type: 'git', url: manifestOf('packages/engine').repository?.url, directory: dir });
    expect(pkg.engines).toEqual(rootManifest.engines);
    // engine also ships the PyTorch model template that `recur export --torch` copies (assets/torch).
    expect(pkg.files).toEqual(dir === 'packages/engine' ? ['dist', 'assets'] : ['dist']);
    expect(pkg.publishConfig?.access).toBe('public');
    expect(read(`${dir}/LICENSE`)).toBe(read('LICENSE')); // npm packs a package's own LICENSE, not the root's
    expect(existsSync(join(root, dir, 'README.md'))).toBe(true);
    expect(Object.values(pkg.peerDependencies ?? {}).filter((v) => v.startsWith('workspace:'))).toEqual([]);
  });

  it.each(publicDirs.filter((d) => manifestOf(d).exports !== undefined))(
    '%s exports built dist files with types, and publishes them without `source`',
    (dir) => {
      const pkg = manifestOf(dir);
      const exports = pkg.exports!;
      const entries = tsupEntries(dir);
      for (const entry of Object.values(exports)) {
        const name = /^\.\/dist\/(\w+)\.js$/.exec(entry.import ?? '')?.[1];
        expect(
          name !== undefined && entries.includes(name),
          `${dir}: ${entry.import} is not a tsup entry (${entries.join(', ')})`,
        ).toBe(true);
        expect(entry.types).toBe(`./dist/${name}.d.ts`);
      }
      // src/ is not in the tarball: the `source` condition (vitest, tsc customConditions) stays in the workspace.
      const published = Object.fromEntries(
        Object.entries(exports).map(([path, { types, import: entry }]) => [path, { types, import: entry }]),
      );
      expect(pkg.publishConfig?.exports).toEqual(published);
      expect([pkg.main, pkg.types]).toEqual([exports['.']?.import, exports['.']?.types]);
    },
  );

  it('@recur/cli installs a `recur` bin built with a shebang', () => {
    const cli = manifestOf('apps/cli');
    expect(cli.bin).toEqual({ recur: './dist/recur.js' });
    expect(tsupEntries('apps/cli')).toEqual(['recur']);
    expect(read('apps/cli/tsup.config.ts')).toContain("banner: { js: '#!/usr/bin/env node' }");
  });

  it('`pnpm test:pack` is a root script and CI runs it after the tests', () => {
    expect(rootManifest.scripts?.['test:pack']).toContain('node tooling/pack/testPack.mjs');
    const ci = read('.ci/run');
    expect(ci.indexOf('pnpm@10.34.9 test:pack')).toBeGreaterThan(ci.indexOf('pnpm@10.34.9 test\n'));
  });
});

describe('test:pack checks', () => {
  it('reads the engine README example: absolute model path, greedy prompt and length for the CLI', () => {
    const example = engineExample(read('packages/engine/README.md'), '/abs/stories260K.gguf');
    expect(example.source).toContain('"/abs/stories260K.gguf"');
    expect(example.source).not.toContain(README_MODEL_LITERAL);
    expect(example.source).toContain("from '@recur/engine'");
    expect(example.prompt.length).toBeGreaterThan(0);
    expect(example.maxNewTokens).toBeGreaterThan(0);
    expect(() => engineExample('no example here', '/m')).toThrow(/no ```ts example block/);
  });

  it('finds the printed ids and says where two runs first differ', () => {
    const out = 'text\n{"promptIds":[1,2],"ids":[3,4,5],"path":"fast"}\n';
    const run = idsFromOutput(out, 'run');
    expect(run).toEqual({ promptIds: [1, 2], ids: [3, 4, 5] });
    expect(tokenDifference(run, { promptIds: [1, 2], ids: [3, 4, 5] })).toBeUndefined();
    expect(tokenDifference(run, { promptIds: [1, 2], ids: [3, 9, 5] })).toBe('ids[1]: 4 vs 9');
    expect(tokenDifference(run, { promptIds: [1, 2], ids: [3, 4] })).toBe('ids: 3 vs 2 tokens');
    expect(() => idsFromOutput('nothing', 'the example')).toThrow('the example printed no');
  });

  it('flags installed manifests that point into the workspace', () => {
    expect(manifestProblems('{"dependencies":{"@recur/tensor":"0.1.0"}}')).toEqual([]);
    expect(manifestProblems('{"dependencies":{"@recur/tensor":"workspace:*"}}')).toEqual([
      'a workspace: dependency range',
    ]);
    expect(manifestProblems('{"exports":{".":{"source":"./src/index.ts"}}}')).toHaveLength(1);
  });
});
