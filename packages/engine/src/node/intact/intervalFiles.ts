import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkFinite, openSafetensors, writeSafetensors, type SafetensorsWriteEntry } from '@recur/checkpoint';
import { openFileSource } from '@recur/checkpoint/node';
import type { ActivationIntervals, UnitInterval } from '../../intact/intervals.js';
import { json, writeAtomic } from '../files.js';
import { TrainRunError } from '../training/errors.js';

/** Where a run folder keeps its recorded intervals: intact/intervals.safetensors + intact/intervals.json. */
export const INTERVALS_DIR = 'intact';
const TENSORS = 'intervals.safetensors';
const META = 'intervals.json';

export interface IntervalsMeta {
  /** How the per-unit box was taken from the activations. */
  readonly rule: 'min-max';
  readonly model: string;
  readonly data: string;
  readonly windows: number;
  readonly tokens: number;
  readonly weights: number;
}

/**
 * Writes `recorded` into `<runDir>/intact/` (tensors `<weight key>.lower` / `.upper` [in], and a small
 * json), replacing an earlier recording of the same run: written to a temporary folder, then renamed.
 */
export async function saveIntervals(
  runDir: string,
  recorded: ActivationIntervals,
  source: { readonly model: string; readonly data: string },
): Promise<string> {
  const entries: SafetensorsWriteEntry[] = [];
  for (const [key, { lower, upper }] of [...recorded.intervals].sort(([a], [b]) => a.localeCompare(b))) {
    entries.push({ name: `${key}.lower`, shape: [lower.length], dtype: 'F32', data: lower });
    entries.push({ name: `${key}.upper`, shape: [upper.length], dtype: 'F32', data: upper });
  }
  const meta: IntervalsMeta = {
    rule: 'min-max',
    ...source,
    windows: recorded.windows,
    tokens: recorded.tokens,
    weights: recorded.intervals.size,
  };
  const dir = join(runDir, INTERVALS_DIR);
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeAtomic(join(tmp, TENSORS), writeSafetensors(entries, { producer: 'recur-intact' }));
  await writeAtomic(join(tmp, META), json(meta));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

/** Whether `path` is a run folder (or an intact folder) holding recorded intervals. */
export async function hasIntervals(path: string): Promise<boolean> {
  const found = await Promise.all(
    [join(path, INTERVALS_DIR, TENSORS), join(path, TENSORS)].map((p) =>
      stat(p).then(
        (s) => s.isFile(),
        () => false,
      ),
    ),
  );
  return found.some(Boolean);
}

/** Reads the intervals a run recorded (`<run>/intact/`, or the intact folder itself); lower ≤ upper is checked. */
export async function loadIntervals(path: string): Promise<ActivationIntervals & { readonly meta: IntervalsMeta }> {
  const dir = (await stat(join(path, INTERVALS_DIR, TENSORS)).catch(() => undefined))
    ? join(path, INTERVALS_DIR)
    : path;
  const metaPath = join(dir, META);
  const meta = JSON.parse(
    await readFile(metaPath, 'utf8').catch(() => {
      throw new TrainRunError(
        path,
        `no recorded intervals (${INTERVALS_DIR}/${META}): train that run with --record-intervals`,
      );
    }),
  ) as IntervalsMeta;
  const source = await openFileSource(join(dir, TENSORS));
  try {
    const file = await openSafetensors(source);
    const intervals = new Map<string, UnitInterval>();
    for (const info of file.tensors) {
      if (!info.name.endsWith('.lower')) continue;
      const key = info.name.slice(0, -'.lower'.length);
      const lower = await file.read(info.name);
      if (!file.has(`${key}.upper`)) throw new TrainRunError(source.name, `${key}.lower has no ${key}.upper`);
      const upper = await file.read(`${key}.upper`);
      checkFinite(source.name, info.name, lower, info.shape);
      checkFinite(source.name, `${key}.upper`, upper, [upper.length]);
      if (upper.length !== lower.length || lower.some((l, i) => l > upper[i]!))
        throw new TrainRunError(source.name, `interval of ${key} has lower > upper or mismatched lengths`);
      intervals.set(key, { lower, upper });
    }
    if (intervals.size === 0) throw new TrainRunError(source.name, 'holds no intervals');
    return { intervals, windows: meta.windows, tokens: meta.tokens, meta };
  } finally {
    await source.close?.();
  }
}
