import { checkSampling, type SamplingField } from '@recur/engine';

/** A sampling flag's text, held to the engine's rule — the one the server holds its JSON fields to. */
export function samplingFlag(field: SamplingField, flag: string, raw: string): number {
  const value = raw.trim() === '' ? NaN : Number(raw);
  return checkSampling(field, value, `--${flag}`, `"${raw}"`);
}

/** Every --seed: an integer in [0, 2^32 − 1], the seeds mulberry32 tells apart. */
export function parseSeed(raw: string): number {
  return samplingFlag('seed', 'seed', raw);
}
