import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listCheckpointDirs } from '@recur/train/node';
import { checkOutput, realPathOf, within } from '../output.js';
import { TrainRunError } from './errors.js';

/** What a run folder holds; anything else makes it someone else's folder. */
const RUN_NAMES = new Set([
  'checkpoints',
  'cache',
  'train.jsonl',
  'loss.svg',
  'model',
  'composition',
  'summary.json',
  'tokenizer',
]);
/** What a fresh run starts anew (the token cache and a scratch tokenizer are kept). */
const RESTARTED = new Set(['checkpoints', 'train.jsonl', 'loss.svg', 'model', 'composition', 'summary.json']);

export interface RunFolderOptions {
  /** Continue the run: the folder must hold a checkpoint, and nothing is created or removed. */
  readonly resume: boolean;
  /** A fresh run in a folder that holds a run or other files: empty it first. */
  readonly force?: boolean;
  /**
   * Paths the run reads. The folder may not be one or lie inside one; one inside the folder (a
   * from-scratch model's tokenizer) is kept when the folder is emptied.
   */
  readonly sources?: readonly string[];
}

/**
 * Makes `out` ready for a run, refusing (TrainRunError) before anything is written: a resume needs a
 * checkpoint; a fresh run needs an empty folder or the leftovers of a run that never saved one
 * (they are cleared: a fresh run never appends to an old log) — or `force`, which empties it.
 */
export async function prepareRunFolder(out: string, options: RunFolderOptions): Promise<void> {
  const outReal = await realPathOf(out);
  const sources = await Promise.all(
    (options.sources ?? []).map(async (path) => ({ path, real: await realPathOf(path) })),
  );
  const kept = sources.filter((s) => s.real !== outReal && within(s.real, outReal));
  const modelReal = join(outReal, 'model');
  const clobbered = kept.find((s) => within(s.real, modelReal));
  if (clobbered)
    throw new TrainRunError(
      out,
      `its model/ is the source ${clobbered.path} this run reads, and the trained model would replace it; choose another --out`,
    );
  await checkOutput(out, {
    kind: 'dir',
    force: true,
    sources: sources.filter((s) => !kept.includes(s)).map((s) => s.path),
  });
  const entries = await readdir(out).catch(() => undefined);
  const saved = await listCheckpointDirs(join(out, 'checkpoints'));
  if (options.resume) {
    if (saved.length === 0)
      throw new TrainRunError(
        out,
        `no checkpoint to resume from (${entries ? 'it has no checkpoints/step-…' : 'the folder does not exist'}); start a fresh run without --resume`,
      );
    return probeWritable(out);
  }
  if (entries && entries.length > 0 && !options.force) {
    if (saved.length > 0)
      throw new TrainRunError(
        out,
        `already holds a training run (${saved.length} checkpoint(s)); pass --resume to continue it, --force to start over, or choose another --out`,
      );
    const foreign = entries.filter((name) => !RUN_NAMES.has(name) && !name.startsWith('.'));
    if (foreign.length > 0)
      throw new TrainRunError(
        out,
        `is not empty and not a training run (${foreign.slice(0, 3).join(', ')}); choose a new folder, or pass --force to start the run in it from nothing`,
      );
  }
  for (const name of entries ?? []) {
    const path = join(out, name);
    const holdsSource = await Promise.all(kept.map(async (s) => within(s.real, await realPathOf(path))));
    if ((options.force || RESTARTED.has(name)) && !holdsSource.includes(true))
      await rm(path, { recursive: true, force: true });
  }
  await mkdir(out, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new TrainRunError(out, `cannot create the run folder (${e.code ?? e.message})`);
  });
  return probeWritable(out);
}

async function probeWritable(out: string): Promise<void> {
  const probe = join(out, `.write-test-${process.pid}`);
  await writeFile(probe, '').catch((e: NodeJS.ErrnoException) => {
    throw new TrainRunError(out, `the run folder is not writable (${e.code ?? e.message})`);
  });
  await rm(probe, { force: true });
}
