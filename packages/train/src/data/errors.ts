export type DataErrorCode = 'corpus-too-small' | 'bad-option' | 'bad-state' | 'bad-cache' | 'bad-corpus';

/**
 * Training data we cannot use. The message is one line, `<source>: <what is wrong and what is needed>`,
 * where source is the text/cache file (or a label for in-memory data).
 */
export class DataError extends Error {
  override readonly name = 'DataError';
  readonly code: DataErrorCode;
  readonly source: string;

  constructor(code: DataErrorCode, source: string, detail: string) {
    super(`${source}: ${detail.replace(/\s*\n\s*/g, ' ')}`);
    this.code = code;
    this.source = source;
  }
}

/** Throws unless `value` is an integer ≥ `min` (options come from CLI flags and JSON, so check them). */
export function requireInt(source: string, name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new DataError('bad-option', source, `${name} must be an integer ≥ ${min}, got ${value}`);
  }
}
