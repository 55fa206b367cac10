import { DataError, requireInt } from './errors.js';

/** How many windows of seqLen+1 tokens, stride seqLen, fit in `tokenCount` tokens (the tail is dropped). */
export function windowCount(tokenCount: number, seqLen: number): number {
  return tokenCount > seqLen ? Math.floor((tokenCount - 1) / seqLen) : 0;
}

/**
 * Window i is tokens[i·seqLen, i·seqLen + seqLen + 1): inputs are its first seqLen ids, targets its
 * last seqLen, so consecutive windows share one token and every token is predicted exactly once.
 */
export function windowAt(tokens: Int32Array, seqLen: number, index: number): Int32Array {
  const start = index * seqLen;
  return tokens.slice(start, start + seqLen + 1);
}

/** Every window in order (e.g. for a validation pass); throws a DataError when not even one fits. */
export function packWindows(tokens: Int32Array, seqLen: number, source = '<tokens>'): Int32Array[] {
  requirePackable(tokens.length, seqLen, source);
  const count = windowCount(tokens.length, seqLen);
  return Array.from({ length: count }, (_, i) => windowAt(tokens, seqLen, i));
}

export function requirePackable(tokenCount: number, seqLen: number, source: string): void {
  requireInt(source, 'seqLen', seqLen, 1);
  if (windowCount(tokenCount, seqLen) === 0) {
    throw new DataError(
      'corpus-too-small',
      source,
      `${tokenCount} tokens cannot fill one sequence: seqLen ${seqLen} needs at least ${seqLen + 1} tokens (use more text or a smaller seqLen)`,
    );
  }
}
