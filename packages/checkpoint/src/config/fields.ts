import { ConfigError } from '../errors.js';

/** Typed access to one loosely-typed config object, failing with a ConfigError naming the field. */
export class Fields {
  constructor(
    readonly file: string,
    private readonly get: (key: string) => unknown,
    /** Prepended to field names in messages, for nested objects (`rope_scaling.`). */
    private readonly prefix = '',
  ) {}

  has(key: string): boolean {
    const value = this.get(key);
    return value !== undefined && value !== null;
  }

  fail(key: string, expected: string): never {
    throw new ConfigError(this.file, this.prefix + key, `${expected}, got ${describe(this.get(key))}`);
  }

  /** A positive integer, at most `max` (sizes have sane bounds: see configSizeLimits). */
  positiveInt(key: string, fallback?: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.get(key) ?? fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > max) {
      this.fail(key, `must be a positive integer${max < Number.MAX_SAFE_INTEGER ? ` ≤ ${max}` : ''}`);
    }
    return value;
  }

  positiveNumber(key: string, fallback?: number): number {
    const value = this.get(key) ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) this.fail(key, 'must be a positive number');
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.get(key) ?? fallback;
    if (typeof value !== 'boolean') this.fail(key, 'must be true or false');
    return value;
  }

  string(key: string, fallback?: string): string {
    const value = this.get(key) ?? fallback;
    if (typeof value !== 'string') this.fail(key, 'must be a string');
    return value;
  }

  /** A token id or null; a list (several EOS ids, as in Llama 3) gives its first entry. */
  tokenId(key: string): number | null {
    const raw = this.get(key);
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
      this.fail(key, 'must be a token id (non-negative integer) or null');
    return value;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value); // bigints (GGUF 64-bit values) do not serialise
  }
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
