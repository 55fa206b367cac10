/** What went wrong, as a stable string a caller can switch on (the message is for people). */
export type CheckpointErrorCode =
  // files and byte sources
  | 'not-found'
  | 'unknown-format'
  | 'no-model'
  | 'ambiguous-model'
  | 'no-config'
  | 'truncated'
  | 'offset-out-of-range'
  // safetensors header
  | 'header-too-long'
  | 'bad-utf8'
  | 'bad-json'
  | 'bad-header'
  | 'bad-metadata'
  | 'overlap'
  | 'gap'
  | 'trailing-data'
  | 'size-mismatch'
  // shapes and dtypes (both formats)
  | 'unknown-dtype'
  | 'unsupported-dtype'
  | 'bad-shape'
  | 'duplicate-tensor'
  | 'missing-tensor'
  | 'unused-tensor'
  | 'non-finite'
  | 'shape-mismatch'
  // sharded safetensors
  | 'bad-index'
  | 'missing-shard'
  // GGUF
  | 'bad-magic'
  | 'bad-version'
  | 'bad-value-type'
  | 'nested-array'
  | 'duplicate-key'
  | 'bad-alignment'
  | 'misaligned'
  // tokenizer
  | 'bad-tokenizer'
  | 'unsupported-tokenizer';

/**
 * A file that cannot be read as the checkpoint it claims to be. The message is one line:
 * `<file>: <what is wrong and what was expected>`.
 */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  readonly code: CheckpointErrorCode;
  readonly file: string;

  constructor(code: CheckpointErrorCode, file: string, detail: string) {
    super(`${file}: ${oneLine(detail)}`);
    this.code = code;
    this.file = file;
  }
}

/** A model configuration we cannot run: names the field and what it should have been. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly field: string;
  readonly file: string;

  constructor(file: string, field: string, expected: string) {
    super(`${file}: config field "${field}" ${oneLine(expected)}`);
    this.field = field;
    this.file = file;
  }
}

/** Messages are printed as one line (e.g. by the CLI), so embedded line breaks are folded. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

/** True for the errors this package throws on purpose (anything else is a bug). */
export function isCheckpointFault(error: unknown): error is CheckpointError | ConfigError {
  return error instanceof CheckpointError || error instanceof ConfigError;
}
