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

/** `recur ARGS` that must succeed (exit 0; its stderr is the failure message otherwise); its stdout parsed as JSON. */
export async function recurJson<T>(...args: string[]): Promise<{ json: T; run: Run }> {
  const run = await recur(...args);
  expect(run.code, run.stderr).toBe(0);
  return { json: JSON.parse(run.stdout) as T, run };
}

/**
 * `recur generate ARGS --prompt PROMPT --max-new-tokens TOKENS --temperature 0 --json`, which must succeed:
 * the greedy run's JSON (ids, path, …) and its stderr.
 */
export async function greedyGenerate<T extends { ids: number[] } = { ids: number[]; path: string }>(
  options: { tokens: number; prompt?: string },
  ...args: string[]
): Promise<T & { stderr: string }> {
  const greedy = [
    '--prompt',
    options.prompt ?? 'Once',
    '--max-new-tokens',
    String(options.tokens),
    '--temperature',
    '0',
  ];
  const { json, run } = await recurJson<T>('generate', ...args, ...greedy, '--json');
  return { ...json, stderr: run.stderr };
}

/** `recur train --model MODEL --out OUT FLAGS --json`, which must succeed: its summary and the run (stderr: the log). */
export function trainJson<T>(model: string, out: string, ...flags: string[]): Promise<{ json: T; run: Run }> {
  return recurJson<T>('train', '--model', model, '--out', out, ...flags, '--json');
}

/** `recur eval ARGS --json`, which must succeed: its mean negative log-likelihood per token. */
export async function meanNll(...args: string[]): Promise<number> {
  return (await recurJson<{ meanNll: number }>('eval', ...args, '--json')).json.meanNll;
}
