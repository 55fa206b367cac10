/**
 * The longest valid UTF-8 prefix of the first `maxBytes` bytes: a multi-byte character split by
 * the cut is dropped rather than turned into U+FFFD (the perplexity protocol's rule).
 */
export function decodeUtf8Prefix(bytes: Uint8Array, maxBytes: number): string {
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
  return new TextDecoder('utf-8').decode(bytes.subarray(0, end));
}

/**
 * Turns a growing list of token ids into text deltas. Decoding the whole list each time keeps
 * merges and byte-fallback sequences right; a trailing U+FFFD (an unfinished UTF-8 sequence) is
 * held back until the next token completes it.
 */
export class TextStream {
  private emitted = '';

  constructor(private readonly decode: (ids: number[]) => string, private readonly prefix: string) {}

  /** Returns the new text since the last call. */
  push(allIds: number[], final = false): string {
    let text = this.decode(allIds).slice(this.prefix.length);
    if (!final) text = text.replace(/\uFFFD+$/, '');
    if (!text.startsWith(this.emitted)) return '';
    const delta = text.slice(this.emitted.length);
    this.emitted = text;
    return delta;
  }

  get text(): string {
    return this.emitted;
  }
}
