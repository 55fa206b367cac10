import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (...path: string[]) => readFileSync(join(root, ...path), 'utf8');

/** Each app's README documents what the app really has: these read both and keep them in step. */
describe('apps/playground/README.md', () => {
  const scripts = (JSON.parse(read('apps/playground/package.json')) as { scripts: Record<string, string> }).scripts;

  it('the playground has a preview script that serves the built static files', () => {
    expect(scripts.preview).toBe('vite preview');
  });

  it.each(['dev', 'build', 'preview'])('documents `%s`, and the script exists', (script) => {
    expect(scripts[script]).toBeDefined();
    expect(read('apps/playground/README.md')).toContain(`--filter @recur/playground ${script}`);
  });
});

describe('apps/cli/README.md', () => {
  const commandDir = join(root, 'apps/cli/src/commands');
  const commands = readdirSync(commandDir).flatMap((file) =>
    [...readFileSync(join(commandDir, file), 'utf8').matchAll(/\.command\('([a-z-]+)/g)].map((m) => m[1]!),
  );
  const envVars = new Set(['RECUR_DEBUG', 'RECUR_THREADS', 'RECUR_API_KEY']);
  for (const file of readdirSync(commandDir))
    for (const m of readFileSync(join(commandDir, file), 'utf8').matchAll(/RECUR_[A-Z_]+/g)) envVars.add(m[0]);

  it('names every command the CLI registers', () => {
    expect(commands.length).toBeGreaterThan(5);
    const readme = read('apps/cli/README.md');
    expect(commands.filter((c) => !readme.includes(`\`${c}`))).toEqual([]);
  });

  it('documents --json, the exit codes and every environment variable the CLI reads', () => {
    const readme = read('apps/cli/README.md');
    expect(readme).toContain('--json');
    expect(readme).toMatch(/exit code/i);
    expect([...envVars].filter((v) => !readme.includes(v))).toEqual([]);
  });
});
