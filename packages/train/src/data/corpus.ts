import type { TextTokenizer } from '@recur/checkpoint';
import { chunkText } from './chunks.js';
import { documentSpans, type DocumentSeparator } from './documents.js';
import { utf8Length } from './utf8.js';

/** A tokenized corpus: one flat id stream plus where each document starts in it. */
export interface TokenCorpus {
  readonly tokens: Int32Array;
  /** Index into `tokens` of each document's first token (its BOS when one was added); ascending. */
  readonly docStarts: Uint32Array;
}

export interface TokenizeOptions {
  /** Put BOS before every document (default true; skipped when the tokenizer has none), as llama2.c does. */
  readonly bos?: boolean;
  /** Put EOS after every document (default false). */
  readonly eos?: boolean;
  readonly separator?: DocumentSeparator;
  /** Documents longer than this (UTF-16 units) are encoded in pieces; see chunkText. Default 4096. */
  readonly maxChunkChars?: number;
  /**
   * Called with (UTF-8 bytes of the text done, total bytes), at most every `progressEveryBytes` and once at the end.
   */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
  readonly progressEveryBytes?: number;
}

/** Tokenizes `text` document by document (fast where whole-text encoding is superlinear). */
export function tokenizeText(text: string, tokenizer: TextTokenizer, options: TokenizeOptions = {}): TokenCorpus {
  const spans = documentSpans(text, options.separator ?? 'auto');
  const bos = (options.bos ?? true) ? tokenizer.bosId : null;
  const eos = options.eos ? tokenizer.eosId : null;
  const maxChars = options.maxChunkChars ?? 4096;
  const every = options.progressEveryBytes ?? 65536;
  const total = utf8Length(text);
  const ids = new IdBuffer();
  const docStarts: number[] = [];
  let doneBytes = 0;
  let doneChars = 0;
  let reported = 0;
  for (const span of spans) {
    docStarts.push(ids.length);
    if (bos !== null) ids.push(bos);
    for (const chunk of chunkText(text.slice(span.start, span.end), maxChars)) {
      for (const id of tokenizer.encode(chunk, { addBos: false })) ids.push(id);
    }
    if (eos !== null) ids.push(eos);
    doneBytes += utf8Length(text, doneChars, span.end);
    doneChars = span.end;
    if (options.onProgress && doneBytes - reported >= every) {
      options.onProgress(doneBytes, total);
      reported = doneBytes;
    }
  }
  options.onProgress?.(total, total);
  return { tokens: ids.toArray(), docStarts: Uint32Array.from(docStarts) };
}

/** A growable Int32 buffer (a plain number[] of millions of ids costs ~4× the memory). */
class IdBuffer {
  private data = new Int32Array(1 << 16);
  length = 0;

  push(id: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = id;
  }

  toArray(): Int32Array {
    return this.data.slice(0, this.length);
  }
}
