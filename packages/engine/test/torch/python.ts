import { spawnSync } from 'node:child_process';

/**
 * A Python that imports torch (RECUR_PYTHON, python3, Debian's /usr/bin/python3), or undefined.
 * Locally the PyTorch tests skip without one, saying so; under CI=true they fail instead (CI installs python3-torch).
 */
export function torchPython(): string | undefined {
  const candidates = [process.env.RECUR_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  const found = candidates.find(
    (python) => spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0,
  );
  if (!found && process.env.CI !== 'true')
    console.warn('PyTorch tests skipped: no python3 with torch (install python3-torch, or set RECUR_PYTHON)');
  return found;
}

/** Runs `python script` with `input` as JSON on stdin; its stdout parsed as JSON (throws with stderr on failure). */
export function runPython<T>(
  python: string,
  args: readonly string[],
  input?: unknown,
  env: Record<string, string> = {},
): T {
  const run = spawnSync(python, args, {
    input: input === undefined ? '' : JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, OMP_NUM_THREADS: '1', ...env },
  });
  if (run.status !== 0) throw new Error(`${python} ${args.join(' ')} exited ${run.status}: ${run.stderr.slice(-2000)}`);
  return JSON.parse(run.stdout) as T;
}

/** Largest |a − b| over two equally shaped nested arrays of numbers. */
export function maxAbsDiff(
  a: readonly number[][] | readonly number[],
  b: readonly number[][] | readonly number[],
): number {
  const fa = (a as unknown[]).flat(2) as number[];
  const fb = (b as unknown[]).flat(2) as number[];
  if (fa.length !== fb.length) throw new RangeError(`maxAbsDiff: ${fa.length} values against ${fb.length}`);
  return fa.reduce((m, x, i) => Math.max(m, Math.abs(x - fb[i]!)), 0);
}
