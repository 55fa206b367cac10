import { open, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TrainCheckpointError } from './checkpointError.js';

/** Checkpoint directories are `step-<9 digits>`; a save in progress is `.tmp-step-…` beside them. */
export const stepDirName = (step: number): string => `step-${String(step).padStart(9, '0')}`;
const STEP_DIR = /^step-(\d{9,})$/;
const TEMP_PREFIX = '.tmp-';

export interface AtomicWriteOptions {
  /** Complete checkpoints to keep, newest first (default 3). */
  readonly keep?: number;
  /** Called after each file is written and synced (progress; tests use it to kill a save midway). */
  readonly onFileWritten?: (file: string, index: number, total: number) => void | Promise<void>;
}

/**
 * Writes `files` as checkpoint `step` under `root`, atomically: into a temp directory in `root`,
 * each file fsynced, the directory fsynced, then renamed to `step-…` and `root` fsynced. A crash at
 * any point leaves either the whole new checkpoint or none of it; older ones are untouched until the
 * new one is in place. Then prunes to the newest `keep` and removes temp directories of dead saves.
 * One writer per root at a time.
 */
export async function writeCheckpointDir(
  root: string,
  step: number,
  files: readonly { name: string; bytes: Uint8Array }[],
  options: AtomicWriteOptions = {},
): Promise<string> {
  const keep = options.keep ?? 3;
  if (!Number.isInteger(keep) || keep < 1)
    throw new TrainCheckpointError('bad-option', root, `keep must be a positive integer, got ${keep}`);
  await mkdir(root, { recursive: true });
  const final = join(root, stepDirName(step));
  const temp = join(root, `${TEMP_PREFIX}${stepDirName(step)}-${process.pid}-${Date.now().toString(36)}`);
  await mkdir(temp);
  for (const [i, file] of files.entries()) {
    await writeSynced(join(temp, file.name), file.bytes);
    await options.onFileWritten?.(file.name, i + 1, files.length);
  }
  await syncDir(temp);
  await replaceDir(temp, final);
  await syncDir(root);
  await prune(root, keep, temp);
  return final;
}

/** Complete checkpoint directories under root, newest first (temp directories never count). */
export async function listCheckpointDirs(root: string): Promise<{ step: number; dir: string }[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, match: STEP_DIR.exec(name) }))
    .filter((e): e is { name: string; match: RegExpExecArray } => e.match !== null)
    .map(({ name, match }) => ({ step: Number(match[1]), dir: join(root, name) }))
    .sort((a, b) => b.step - a.step);
}

async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync a directory so the names in it (a new file, a rename) survive a power cut. */
async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** rename(2) cannot replace a non-empty directory: move an old one (same step saved again) aside first. */
async function replaceDir(temp: string, final: string): Promise<void> {
  try {
    await rename(temp, final);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOTEMPTY' && (err as { code?: string }).code !== 'EEXIST') throw err;
    const aside = `${temp}-old`;
    await rename(final, aside);
    await rename(temp, final);
    await rm(aside, { recursive: true, force: true });
  }
}

async function prune(root: string, keep: number, ownTemp: string): Promise<void> {
  const complete = await listCheckpointDirs(root);
  for (const { dir } of complete.slice(keep)) await rm(dir, { recursive: true, force: true });
  for (const name of await readdir(root)) {
    const path = join(root, name);
    if (name.startsWith(TEMP_PREFIX) && path !== ownTemp) await rm(path, { recursive: true, force: true });
  }
}
