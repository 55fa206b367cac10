import { lstat, mkdir, readdir, realpath, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';

/** An output path a command must not write: a source it reads, or something it did not make. */
export class OutputError extends Error {
  override readonly name = 'OutputError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

export interface OutputTarget {
  /** A folder (config.json, model.safetensors, …) or one file (a .gguf). */
  readonly kind: 'dir' | 'file';
  /** Paths the command reads: the output may not be one of them, lie inside one or hold one. */
  readonly sources?: readonly string[];
  /** Replace an existing output this command did not write — the whole of it, nothing old is kept. */
  readonly force?: boolean;
  /** Whether an existing output is this command's own (then it is replaced without `force`). */
  readonly isOwn?: (path: string) => Promise<boolean>;
}

/**
 * The one way commands write their output: checks `out` (see `checkOutput`), lets `write` fill a
 * temporary sibling `.<name>.tmp-<pid>` (a folder for kind 'dir', a file path for 'file'), then
 * renames it into place. A crash or failure never leaves a half-written or mixed output: the
 * temporary is removed on failure, and an old output is only replaced once the new one is whole.
 */
export async function writeOutput<T>(
  out: string,
  target: OutputTarget,
  write: (temp: string) => Promise<T>,
): Promise<T> {
  await checkOutput(out, target);
  const temp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`);
  await rm(temp, { recursive: true, force: true });
  await mkdir(target.kind === 'dir' ? temp : dirname(out), { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new OutputError(out, `cannot create the output (${e.code ?? e.message})`);
  });
  try {
    const result = await write(temp);
    await moveIntoPlace(temp, out, target.kind);
    return result;
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

/** Throws an OutputError when `out` is (inside, or holds) a source, or an existing output that may not be replaced. */
export async function checkOutput(out: string, target: OutputTarget): Promise<void> {
  const outReal = await realPathOf(out);
  for (const source of target.sources ?? []) {
    const sourceReal = await realPathOf(source);
    if (within(outReal, sourceReal))
      throw new OutputError(
        out,
        `is ${outReal === sourceReal ? '' : 'inside '}the source ${source} this command reads; write somewhere else`,
      );
    if (within(sourceReal, outReal))
      throw new OutputError(out, `holds the source ${source} this command reads; replacing it would delete the source`);
  }
  const existing = await lstat(out).catch(() => undefined);
  if (!existing) return;
  if (target.kind === 'file') {
    if (existing.isDirectory()) throw new OutputError(out, 'is a folder; expected a file path');
    if (existing.size === 0 || target.force || (await target.isOwn?.(out))) return;
    throw new OutputError(out, 'exists and was not written by this command; pass --force to overwrite it');
  }
  if (!existing.isDirectory()) throw new OutputError(out, 'exists and is not a folder');
  const entries = await readdir(out);
  if (entries.length === 0 || target.force || (await target.isOwn?.(out))) return;
  throw new OutputError(
    out,
    `is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}) and was not written by this command; choose a new folder, or pass --force to replace it whole`,
  );
}

/** Whether `path` is `folder` or lies inside it. */
export function within(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The real path of `path`, or of its nearest existing ancestor with the rest appended (outputs may not exist yet). */
export async function realPathOf(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(await realPathOf(parent), basename(absolute));
  }
}

/** rename(2) replaces a file atomically; a folder is moved aside first, then removed. */
async function moveIntoPlace(temp: string, out: string, kind: 'dir' | 'file'): Promise<void> {
  const existing = await lstat(out).catch(() => undefined);
  if (kind === 'file' || !existing) return rename(temp, out);
  const aside = join(dirname(out), `.${basename(out)}.old-${process.pid}`);
  await rm(aside, { recursive: true, force: true });
  await rename(out, aside);
  await rename(temp, out);
  await rm(aside, { recursive: true, force: true });
}

/** What a caller of a model writer chooses: extra sources to protect (the model's own is always one) and --force. */
export type OutputOptions = Pick<OutputTarget, 'sources' | 'force'>;
