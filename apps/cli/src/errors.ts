/**
 * Every failure reaches the user as one line on stderr and a non-zero exit; the stack is shown
 * only with RECUR_DEBUG=1.
 */
export function reportFailure(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`recur: ${message.split('\n')[0]}\n`);
  if (process.env.RECUR_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}

/** A usage mistake caught by our own checks (commander reports its own). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseNumber(
  name: string,
  raw: string,
  { integer = false, min = -Infinity, max = Infinity } = {},
): number {
  const value = Number(raw);
  if (
    raw.trim() === '' ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    value < min ||
    value > max
  ) {
    const kind = integer ? 'an integer' : 'a number';
    const range = [Number.isFinite(min) ? `≥ ${min}` : '', Number.isFinite(max) ? `≤ ${max}` : '']
      .filter(Boolean)
      .join(' and ');
    throw new UsageError(`--${name} must be ${kind}${range ? ` ${range}` : ''}, got "${raw}"`);
  }
  return value;
}
