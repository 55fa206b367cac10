/**
 * The limits of the sampling settings, written once for every surface: `recur generate` flags, the
 * server's JSON fields and `generate()` itself. Each surface names the field its own way
 * (`--top-p`, `"top_p"`) and the rule text is the same.
 */
export type SamplingField = 'temperature' | 'topK' | 'topP' | 'seed';

interface Rule {
  readonly integer: boolean;
  readonly min: number;
  readonly max: number;
  /** The minimum itself is excluded. */
  readonly above?: boolean;
}

export const samplingRules: Readonly<Record<SamplingField, Rule>> = {
  temperature: { integer: false, min: 0, max: 2 }, // OpenAI's range; 0 is greedy
  topK: { integer: true, min: 0, max: Infinity }, // 0 is off
  topP: { integer: false, min: 0, max: 1, above: true }, // 0 would keep nothing; 1 is off
  seed: { integer: true, min: 0, max: 2 ** 32 - 1 }, // mulberry32 keeps `seed >>> 0`: other values alias these
};

/** A sampling value out of its rule; `field` says which, the message names it as the caller does. */
export class SamplingError extends RangeError {
  override readonly name = 'SamplingError';
  constructor(
    readonly field: SamplingField,
    message: string,
  ) {
    super(message);
  }
}

/** "must be a number > 0 and ≤ 1" */
export function samplingRuleText(field: SamplingField): string {
  const { integer, min, max, above = false } = samplingRules[field];
  const range = [`${above ? '>' : '≥'} ${min}`, Number.isFinite(max) ? `≤ ${max}` : ''].filter(Boolean).join(' and ');
  return `must be ${integer ? 'an integer' : 'a number'} ${range}`;
}

/**
 * `value` when it keeps `field`'s rule, else a SamplingError "`name` must be …, got `shown`"
 * (`shown` defaults to the value as JSON; the CLI passes the text it was given).
 */
export function checkSampling(
  field: SamplingField,
  value: unknown,
  name: string,
  shown = JSON.stringify(value),
): number {
  const { integer, min, max, above = false } = samplingRules[field];
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    (above ? value > min : value >= min) &&
    value <= max;
  if (!ok) throw new SamplingError(field, `${name} ${samplingRuleText(field)}, got ${shown}`);
  return value as number;
}

/** Checks every given setting (undefined ones are skipped); `nameOf` names a field in messages. */
export function validateSampling(
  values: Partial<Record<SamplingField, unknown>>,
  nameOf: (field: SamplingField) => string = (f) => f,
): void {
  for (const field of Object.keys(samplingRules) as SamplingField[]) {
    if (values[field] !== undefined) checkSampling(field, values[field], nameOf(field));
  }
}
