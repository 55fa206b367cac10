/**
 * Cuts a long document into pieces of at most `maxChars` UTF-16 units, preferring a cut after a
 * line break, then before a space, never inside a surrogate pair. Tokenizers without a pre-tokenizer
 * (stories260K) get slow on long inputs; short pieces keep encoding linear. For byte-level BPE with the
 * GPT-2 split regex a cut before a space changes nothing; SentencePiece-style tokenizers that prepend
 * `▁` see one extra space per cut, which is why documents are only cut when longer than `maxChars`.
 */
export function chunkText(text: string, maxChars: number): string[] {
  const chunks: string[] = [];
  let start = 0;
  while (text.length - start > maxChars) {
    const end = cutPoint(text, start, start + maxChars);
    chunks.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) chunks.push(text.slice(start));
  return chunks;
}

function cutPoint(text: string, start: number, limit: number): number {
  const newline = text.lastIndexOf('\n', limit - 1);
  if (newline >= start) return newline + 1;
  // Before a space that starts a word: the split regex puts that space with the word anyway.
  for (let i = limit - 1; i > start; i--) {
    if (text[i] === ' ' && i + 1 < text.length && text[i + 1] !== ' ') return i;
  }
  const code = text.charCodeAt(limit - 1);
  return code >= 0xd800 && code < 0xdc00 ? limit - 1 : limit;
}
