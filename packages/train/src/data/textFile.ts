import { DataError } from './errors.js';

/**
 * The one rule for "a text file" (training corpora, `recur eval --data`): valid UTF-8, no NUL bytes
 * (valid UTF-8 can still be binary, e.g. a zero-filled file) and not empty. The first `maxBytes`
 * bytes are taken, cut back to a whole character (the perplexity protocol's rule). Throws a
 * DataError('bad-corpus') naming `source`.
 */
export function decodeTextFile(bytes: Uint8Array, source: string, maxBytes = Infinity): string {
  const end = utf8PrefixEnd(bytes, maxBytes);
  const nul = bytes.subarray(0, end).indexOf(0);
  if (nul >= 0) throw new DataError('bad-corpus', source, `not a UTF-8 text file (NUL byte at offset ${nul})`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, end));
  } catch {
    throw new DataError('bad-corpus', source, 'not a UTF-8 text file (invalid UTF-8)');
  }
  if (text.trim() === '') throw new DataError('bad-corpus', source, 'the text file is empty');
  return text;
}

/** Where the first `maxBytes` bytes end once a multi-byte character split by the cut is dropped. */
export function utf8PrefixEnd(bytes: Uint8Array, maxBytes: number): number {
  let end = Math.min(maxBytes, bytes.length);
  if (end < bytes.length) {
    let lead = end;
    while (lead > 0 && lead > end - 4 && ((bytes[lead - 1] as number) & 0xc0) === 0x80) lead--;
    if (lead > 0) {
      const first = bytes[lead - 1] as number;
      const needed = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
      if (end - (lead - 1) < needed) end = lead - 1;
    }
  }
  return end;
}
