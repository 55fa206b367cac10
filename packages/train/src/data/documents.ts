/**
 * How a text file separates documents. `blank-line` is what TinyStories slices use (it cannot tell
 * a story break from a paragraph break, so documents are paragraphs there); `endoftext` is the
 * `<|endoftext|>` marker of the full TinyStories dumps; `none` makes the whole file one document.
 */
export type DocumentSeparator = 'auto' | 'blank-line' | 'endoftext' | 'none';

/** A document as a [start, end) range of UTF-16 indices into the text, trimmed of outer whitespace. */
export interface DocumentSpan {
  readonly start: number;
  readonly end: number;
}

const END_OF_TEXT = '<|endoftext|>';

/** `auto` picks `endoftext` when the marker occurs, else `blank-line`. */
export function resolveSeparator(text: string, separator: DocumentSeparator): Exclude<DocumentSeparator, 'auto'> {
  if (separator !== 'auto') return separator;
  return text.includes(END_OF_TEXT) ? 'endoftext' : 'blank-line';
}

/** The non-empty documents of `text`, in order. */
export function documentSpans(text: string, separator: DocumentSeparator = 'auto'): DocumentSpan[] {
  const mode = resolveSeparator(text, separator);
  const pattern = mode === 'endoftext' ? /<\|endoftext\|>/g : mode === 'blank-line' ? /\n[^\S\n]*\n/g : null;
  const spans: DocumentSpan[] = [];
  let start = 0;
  const push = (end: number): void => {
    const span = trimSpan(text, start, end);
    if (span.end > span.start) spans.push(span);
  };
  if (pattern) {
    for (const match of text.matchAll(pattern)) {
      push(match.index);
      start = match.index + match[0].length;
    }
  }
  push(text.length);
  return spans;
}

/** The documents themselves (convenience over `documentSpans`). */
export function splitDocuments(text: string, separator: DocumentSeparator = 'auto'): string[] {
  return documentSpans(text, separator).map((s) => text.slice(s.start, s.end));
}

function trimSpan(text: string, start: number, end: number): DocumentSpan {
  let s = start;
  let e = end;
  while (s < e && /\s/.test(text[s]!)) s++;
  while (e > s && /\s/.test(text[e - 1]!)) e--;
  return { start: s, end: e };
}
