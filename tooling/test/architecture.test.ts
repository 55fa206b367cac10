import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Imports point down only (docs/architecture.md, "Layers"): which of our packages each package may import at
 * run time. train sits beside lora/router (it trains a graph decoder; engine composes it).
 */
const allowed: Record<string, readonly string[]> = {
  checkpoint: [],
  scheduler: [],
  tensor: [],
  graph: ['tensor'],
  lora: ['tensor', 'graph'],
  sharing: ['tensor', 'graph'],
  router: ['tensor', 'graph'],
  train: ['tensor', 'graph', 'checkpoint'],
  engine: ['checkpoint', 'tensor', 'graph', 'lora', 'sharing', 'router', 'train', 'scheduler'],
  cli: ['engine', 'tensor'],
  // The browser app: engine for the work, tensor for backend choice, and the lower
  // packages whose browser entries it reads directly (checkpoint byte sources,
  // graph layer steps, lora adapters rebuilt after conversion, router exit rules).
  playground: ['engine', 'tensor', 'checkpoint', 'graph', 'lora', 'router'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name !== 'node_modules' && !name.startsWith('.'))
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
    });
}

const apps = new Set(['cli', 'playground']);
const packageDir = (name: string) => (apps.has(name) ? join(root, 'apps', name) : join(root, 'packages', name));

describe('package layering', () => {
  it.each(Object.keys(allowed))('%s imports only the packages below it', (name) => {
    const manifest = JSON.parse(readFileSync(join(packageDir(name), 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    const declared = Object.keys(manifest.dependencies ?? {})
      .filter((d) => d.startsWith('@recur/'))
      .map((d) => d.slice('@recur/'.length));
    expect(declared.filter((d) => !allowed[name]!.includes(d))).toEqual([]);
    const imported = new Set<string>();
    for (const file of sourceFiles(join(packageDir(name), 'src'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/from '@recur\/([a-z]+)/g)) imported.add(match[1]!);
    }
    imported.delete(name);
    expect([...imported].filter((d) => !allowed[name]!.includes(d))).toEqual([]);
  });

  it('below engine each public name has one home: no package re-exports another package’s names', () => {
    // engine is the apps' one door and may pass names through; a lower package re-exporting (crossEntropy
    // from tensor via router and train) gives one op three import paths.
    for (const name of Object.keys(allowed).filter((n) => n !== 'engine' && !apps.has(n))) {
      for (const file of sourceFiles(join(packageDir(name), 'src'))) {
        expect(readFileSync(file, 'utf8'), file).not.toMatch(/^export [^;]* from '@recur\//m);
      }
    }
  });

  it('inference takes its seeded RNG from @recur/tensor, not from the training package', () => {
    for (const file of sourceFiles(join(packageDir('engine'), 'src'))) {
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/\bMulberry32\b[^;]* from '@recur\/train'/);
    }
    expect(readFileSync(join(packageDir('tensor'), 'src', 'index.ts'), 'utf8')).toMatch(
      /export \{ Mulberry32 \} from '\.\/random\.js'/,
    );
  });

  it('no package reaches into another package’s src/', () => {
    for (const name of Object.keys(allowed)) {
      for (const file of sourceFiles(join(packageDir(name), 'src'))) {
        expect(readFileSync(file, 'utf8'), file).not.toMatch(
          /from '(\.\.\/)+(packages|apps)\/|from '@recur\/[a-z]+\/src/,
        );
      }
    }
  });
});

describe('docs/architecture.md stays true', () => {
  const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
  const dirs = [
    ...Object.keys(allowed).flatMap((name) => ['src', 'test'].map((d) => join(packageDir(name), d))),
    join(root, 'tooling'),
  ];
  const files = dirs
    .filter((d) => existsSync(d))
    .flatMap((d) => sourceFiles(d))
    .map((f) => f.replaceAll('\\', '/'));

  it("every source file it names exists (paths may omit a package's src/)", () => {
    const named = [...doc.matchAll(/`([\w./-]+\.ts)`/g)].flatMap((m) => m[1]!.split(/,\s*/));
    const exists = (p: string): boolean =>
      files.some((f) => f.endsWith(`/${p}`) || f.endsWith(`/${p.replace(/^([\w-]+)\//, '$1/src/')}`));
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter((p) => !exists(p))).toEqual([]);
  });

  it('its import table is the one this test enforces', () => {
    for (const [name, deps] of Object.entries(allowed)) {
      if (apps.has(name)) continue;
      const row = doc.split('\n').find((line) => new RegExp(`^\\| [^|]*\`${name}\``).test(line));
      expect(row, name).toBeDefined();
      const listed = row!
        .split('|')[2]!
        .split(',')
        .map((s) => s.replace(/\(.*\)/, '').trim())
        .filter((s) => s && s !== '—');
      expect([...listed].sort(), name).toEqual([...deps].sort());
    }
  });
});
