import { fork } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeCheckpoint,
  listCheckpointDirs,
  loadLatestCheckpoint,
  stepDirName,
  writeCheckpointDir,
} from '../src/node/index.js';
import { fakeCheckpointBase, fakeTensors } from './checkpointFixtures.js';

const here = dirname(fileURLToPath(import.meta.url));

async function save(root: string, step: number, keep?: number): Promise<string> {
  return writeCheckpointDir(
    root,
    step,
    encodeCheckpoint(fakeCheckpointBase(step), fakeTensors(step, 'w'), fakeTensors(step, 'm')),
    keep ? { keep } : {},
  );
}

describe('training checkpoints on disk', () => {
  let root = '';
  let child = '';
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'recur-ckpt-'));
    // The child runs the real writer from src: bundle it (workspace packages by their `source` condition).
    child = join(root, 'child.mjs');
    await build({
      entryPoints: [join(here, 'checkpointKillChild.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['source'],
      outfile: child,
      logLevel: 'silent',
    });
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('keeps the newest K checkpoints and loads the latest', async () => {
    const dir = join(root, 'keep');
    for (let step = 1; step <= 5; step++) await save(dir, step, 3);
    expect((await listCheckpointDirs(dir)).map((c) => c.step)).toEqual([5, 4, 3]);
    const loaded = (await loadLatestCheckpoint(dir))!;
    expect(loaded.state.step).toBe(5);
    expect(loaded.tensors.get('w.2')!.data[0]).toBe(52);
    expect(loaded.tensors.get('w.2')!.shape).toEqual([64, 64]);
    await save(dir, 5, 3); // the same step again replaces it
    expect((await listCheckpointDirs(dir)).map((c) => c.step)).toEqual([5, 4, 3]);
  });

  it('skips incomplete or damaged checkpoints and says why', async () => {
    const dir = join(root, 'damaged');
    await save(dir, 1);
    await save(dir, 2);
    await writeFile(join(dir, stepDirName(2), 'model.safetensors'), new Uint8Array(100)); // damaged
    await mkdir(join(dir, stepDirName(3))); // no state.json
    const loaded = (await loadLatestCheckpoint(dir))!;
    expect(loaded.state.step).toBe(1);
    expect(loaded.skipped.map((s) => s.reason)).toEqual([
      expect.stringMatching(/step-000000003\/state\.json: missing or unreadable/),
      expect.stringMatching(/step-000000002\/model\.safetensors: has 100 bytes .* damaged or partial/),
    ]);
    expect(await loadLatestCheckpoint(join(root, 'nothing-here'))).toBeUndefined();
  });

  for (const pauseAfter of ['model.safetensors', 'state.json']) {
    it(`a process SIGKILLed during a save (after writing ${pauseAfter}) leaves the previous checkpoint loadable`, async () => {
      const dir = join(root, `kill-${pauseAfter}`);
      await save(dir, 1);
      const proc = fork(child, [dir, '2', pauseAfter], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const message = await new Promise<unknown>((resolve, reject) => {
        proc.once('message', resolve);
        proc.once('exit', (code) => reject(new Error(`child exited (${code}) before pausing`)));
      });
      expect(message).toEqual({ paused: pauseAfter });
      const exited = new Promise((resolve) => proc.once('exit', (_code, signal) => resolve(signal)));
      proc.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      const names = await readdir(dir);
      expect(names.filter((n) => n.startsWith('.tmp-'))).toHaveLength(1); // the interrupted save, never renamed
      const loaded = (await loadLatestCheckpoint(dir))!;
      expect(loaded.state.step).toBe(1);
      expect(loaded.tensors.get('w.0')!.data[0]).toBe(10);
      await save(dir, 3); // the next save succeeds and clears the dead temp directory
      expect((await readdir(dir)).sort()).toEqual([stepDirName(1), stepDirName(3)]);
    });
  }
});
