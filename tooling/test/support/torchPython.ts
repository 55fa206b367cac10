import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';

/**
 * A python that imports torch (RECUR_PYTHON, else python3), for the experiments that train through uptrain_recur.py.
 * Under CI its absence is a failing test (.ci/run installs python3-torch); elsewhere a warning, and the caller skips.
 */
export function torchPythonFor(what: string): string | undefined {
  const python = [process.env.RECUR_PYTHON, 'python3', '/usr/bin/python3'].find(
    (p) => !!p && spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0,
  );
  if (!python && process.env.CI === 'true')
    it('needs PyTorch under CI', () =>
      expect.fail('CI=true but no python3 imports torch: .ci/run installs python3-torch'));
  else if (!python) console.warn(`${what} skipped: no python3 with torch (install python3-torch)`);
  return python;
}
