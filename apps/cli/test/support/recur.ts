import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** The built CLI (the root `test` script builds first) and the read-only data beside the repo. */
export const cli = fileURLToPath(new URL('../../dist/recur.js', import.meta.url));
export const shared = fileURLToPath(new URL('../../../../../shared/', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `recur` binary with `args`; never rejects. */
export function recur(...args: string[]): Promise<Run> {
  return recurWithEnv(process.env, ...args);
}

/** `recur` with its own environment (e.g. without the suite's RECUR_THREADS=1). */
export function recurWithEnv(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 120_000, env }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A failure is one `recur: …` line on stderr, no stack, exit status 1. */
export function expectOneLineFailure(run: Run, pattern: RegExp): void {
  expect(run.code).toBe(1);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^recur: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}
