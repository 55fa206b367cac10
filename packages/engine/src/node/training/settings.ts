import { resolve } from 'node:path';
import type { TrainRunOptions } from './run.js';

/** The run's options as saved in every checkpoint (state.json `options`) and in summary.json. Paths are absolute. */
export function runRecord(options: TrainRunOptions): Record<string, unknown> {
  return {
    model: options.model.source.path,
    teacher: options.teacher ? resolve(options.teacher.source.path) : null,
    distillation: options.distillation ?? null,
    textFile: resolve(options.textFile),
    steps: options.steps,
    seqLen: options.seqLen,
    batchSize: options.batchSize,
    trainable: options.dvpt ? 'dvpt' : options.trainable,
    schedule: options.schedule,
    weightDecay: options.weightDecay ?? 0.01,
    clipNorm: options.clipNorm ?? 1,
    accumulation: options.accumulation ?? 1,
    valFraction: options.valFraction ?? 0.1,
    seed: options.seed ?? 0,
    router: options.model.recur?.router ? { ...options.model.recur.router, ...options.router } : null,
    exit: options.exit ?? null,
    adapter: options.adapter ?? null,
    dvpt: options.dvpt ?? null,
    composition: options.composition
      ? { ...options.composition.spec, parts: options.composition.parts.map((p) => p.path) }
      : null,
  };
}

/**
 * The saved settings a resumed run would change, as "field saved → now" (nested fields dotted:
 * `schedule.peakLr 0.003 → 0.01`). The model is checked by its identity instead, and `steps` only
 * matters through the schedule. Fields a saved record lacks (older runs) are not compared.
 */
export function settingsChanges(
  saved: Readonly<Record<string, unknown>>,
  current: Readonly<Record<string, unknown>>,
): string[] {
  const changes: string[] = [];
  // records of older runs kept paths as given
  const absolute = (path: unknown) => (typeof path === 'string' ? resolve(path) : path);
  saved = { ...saved, textFile: absolute(saved.textFile), teacher: absolute(saved.teacher) };
  for (const [field, value] of Object.entries(current)) {
    if (!IGNORED.has(field) && field in saved) compare(saved[field], value, field, changes);
  }
  return changes;
}

const IGNORED = new Set(['model', 'steps']);

function compare(before: unknown, now: unknown, field: string, changes: string[]): void {
  if (isRecord(before) && isRecord(now)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(now)]))
      compare(before[key], now[key], `${field}.${key}`, changes);
  } else if (show(before) !== show(now)) {
    changes.push(`${field} ${show(before)} → ${show(now)}`);
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const show = (value: unknown): string => (typeof value === 'string' ? value : (JSON.stringify(value) ?? 'none'));
