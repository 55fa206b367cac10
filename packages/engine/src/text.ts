import { utf8PrefixEnd } from '@recur/train';

/**
 * The longest valid UTF-8 prefix of the first `maxBytes` bytes: a multi-byte character split by
 * the cut is dropped rather than turned into U+FFFD (the perplexity protocol's rule).
 */
export function decodeUtf8Prefix(bytes: Uint8Array, maxBytes: number): string {
  return new TextDecoder('utf-8').decode(bytes.subarray(0, utf8PrefixEnd(bytes, maxBytes)));
}

/**
 * Turns a growing list of token ids into text deltas. Decoding the whole list each time keeps
 * merges and byte-fallback sequences right; a trailing U+FFFD (an unfinished UTF-8 sequence) is
 * held back until the next token completes it.
 */
export class TextStream {
  private emitted = '';

  constructor(
    private readonly decode: (ids: number[]) => string,
    private readonly prefix: string,
  ) {}

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
